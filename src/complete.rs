//! Completion of values from the store: `tokenctl token revoke <TAB>`
//! offers the account's live token names. The shell calls
//! `tokenctl -- <words>` with TOKENCTL_COMPLETE set (clap_complete's `CompleteEnv`);
//! a completer only sees the word being completed, so the store and the
//! account come from the whole command line, read here.
//!
//! Completion never creates a store, never prompts, and offers nothing
//! rather than failing or waiting long on a database server.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use clap_complete::CompletionCandidate;

use crate::store::Queries;
use crate::store::{Location, Store};

/// `--db` and `-u` as given on the line being completed.
#[derive(Default)]
struct Line {
    db: Option<PathBuf>,
    user: Option<String>,
}

impl Line {
    fn parse(words: impl IntoIterator<Item = OsString>) -> Line {
        let mut line = Line::default();
        let mut words = words.into_iter().peekable();
        while let Some(word) = words.next() {
            let Some(word) = word.to_str().map(str::to_string) else {
                continue;
            };
            let mut value = |inline: Option<&str>| {
                inline
                    .map(str::to_string)
                    .or_else(|| words.next().and_then(|w| w.into_string().ok()))
            };
            if word == "--db" {
                line.db = value(None).map(PathBuf::from);
            } else if let Some(v) = word.strip_prefix("--db=") {
                line.db = value(Some(v)).map(PathBuf::from);
            } else if word == "-u" || word == "--user" {
                line.user = value(None);
            } else if let Some(v) = word.strip_prefix("--user=") {
                line.user = value(Some(v));
            } else if let Some(v) = word.strip_prefix("-u").filter(|v| !v.is_empty()) {
                line.user = value(Some(v.trim_start_matches('=')));
            }
        }
        line
    }

    /// The store: `--db` on the line, else TOKENCTL_DB, else the default.
    fn store(&self) -> Option<Store> {
        let location = self
            .db
            .clone()
            .or_else(|| {
                std::env::var_os("TOKENCTL_DB")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .map(|given| Location::parse(&given).ok())
            .unwrap_or_else(|| Location::default_store().ok())?;
        Store::open_read(&location).ok().flatten()
    }

    fn user(&self) -> Option<String> {
        self.user
            .clone()
            .or_else(|| {
                std::env::var("TOKENCTL_USER")
                    .ok()
                    .filter(|v| !v.is_empty())
            })
            .or_else(crate::commands::os_user::login_name)
    }
}

fn candidates(current: &OsStr, names: Vec<String>) -> Vec<CompletionCandidate> {
    let prefix = current.to_string_lossy();
    names
        .into_iter()
        .filter(|n| n.starts_with(prefix.as_ref()))
        .map(CompletionCandidate::new)
        .collect()
}

/// How long completion waits for the store: a shell must not hang on a
/// database server that does not answer.
const STORE_TIMEOUT: Duration = Duration::from_secs(2);

/// What `read` gets from the store on the line, or `None` when it fails
/// or takes longer than `STORE_TIMEOUT` (the thread is left behind: the
/// process ends once the candidates are printed).
fn from_store<T: Send + 'static>(
    read: impl FnOnce(&Line, Store) -> Option<T> + Send + 'static,
) -> Option<T> {
    let line = Line::parse(std::env::args_os());
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let found = line.store().and_then(|store| read(&line, store));
        let _ = sender.send(found);
    });
    receiver.recv_timeout(STORE_TIMEOUT).ok().flatten()
}

/// Live token names of the acting account.
pub fn token_names(current: &OsStr) -> Vec<CompletionCandidate> {
    let names = from_store(|line, store| {
        let account = store.find_account(&line.user()?).ok()??;
        store.live_token_names(account.id).ok()
    });
    candidates(current, names.unwrap_or_default())
}

/// Names of the live accounts.
pub fn account_names(current: &OsStr) -> Vec<CompletionCandidate> {
    let names = from_store(|_, store| store.account_names().ok());
    candidates(current, names.unwrap_or_default())
}

/// The privileges of the catalogue, or while it is empty those held by
/// some account or token; completes each element of a comma list.
pub fn privileges(current: &OsStr) -> Vec<CompletionCandidate> {
    let mut names = from_store(|_, store| {
        let catalogue = store.catalogue().ok()?;
        match catalogue.is_empty() {
            true => store.privileges_in_use().ok(),
            false => Some(catalogue.into_iter().map(|p| p.name).collect()),
        }
    })
    .unwrap_or_default();
    if !names.iter().any(|n| n == crate::values::ALL) {
        names.push(crate::values::ALL.to_string());
    }
    let current = current.to_string_lossy();
    let (done, last) = match current.rfind(',') {
        Some(i) => current.split_at(i + 1),
        None => ("", current.as_ref()),
    };
    names
        .into_iter()
        .filter(|n| n.starts_with(last) && !done.split(',').any(|d| d == n))
        .map(|n| CompletionCandidate::new(format!("{done}{n}")))
        .collect()
}

/// The privileges of the catalogue.
pub fn catalogue(current: &OsStr) -> Vec<CompletionCandidate> {
    let names = from_store(|_, store| {
        let catalogue = store.catalogue().ok()?;
        Some(catalogue.into_iter().map(|p| p.name).collect())
    });
    candidates(current, names.unwrap_or_default())
}

/// bash's registration: clap_complete's, except that the words bash split
/// at COMP_WORDBREAKS (`:` and `=` among them) are put back together, so
/// `--acl dns:<TAB>` and `--acl=<TAB>` complete as in zsh and fish. What
/// bash replaces is only the part after the last break, so the answers
/// lose the part of the word before it.
pub struct Bash;

const BASH_SCRIPT: &str = r#"
_clap_complete_NAME() {
    local IFS=$'\013'
    local _CLAP_COMPLETE_COMP_TYPE=${COMP_TYPE}
    if compopt +o nospace 2> /dev/null; then
        local _CLAP_COMPLETE_SPACE=false
    else
        local _CLAP_COMPLETE_SPACE=true
    fi
    # bash splits --acl=dns:read into --acl = dns : read (COMP_WORDBREAKS):
    # join the pieces typed without a space between them.
    local words=() cword=0 i piece joined pos=0
    for (( i = 0; i < ${#COMP_WORDS[@]}; i++ )); do
        piece=${COMP_WORDS[i]}
        joined=true
        while [[ $pos -lt ${#COMP_LINE} && ${COMP_LINE:pos:1} == [[:space:]] ]]; do
            pos=$((pos + 1))
            joined=false
        done
        pos=$((pos + ${#piece}))
        if [[ $i -eq $COMP_CWORD && "${BASH_VERSINFO[0]}" -ge 4 ]] && [[ -n "$2" || $piece != [=:]* ]]; then
            piece=$2
        fi
        if [[ $i -gt 0 && $joined == true ]]; then
            words[${#words[@]}-1]+=$piece
        else
            words+=("$piece")
        fi
        if [[ $i -eq $COMP_CWORD ]]; then
            cword=$(( ${#words[@]} - 1 ))
        fi
    done
    local before=${words[cword]%"$2"}
    COMPREPLY=( $( \
        _CLAP_IFS="$IFS" \
        _CLAP_COMPLETE_INDEX="$cword" \
        _CLAP_COMPLETE_COMP_TYPE="$_CLAP_COMPLETE_COMP_TYPE" \
        _CLAP_COMPLETE_SPACE="$_CLAP_COMPLETE_SPACE" \
        VAR="bash" \
        COMPLETER -- "${words[@]}" \
    ) )
    if [[ $? != 0 ]]; then
        unset COMPREPLY
        return
    fi
    if [[ -n $before ]]; then
        for i in "${!COMPREPLY[@]}"; do
            COMPREPLY[i]=${COMPREPLY[i]#"$before"}
        done
    fi
    if [[ $_CLAP_COMPLETE_SPACE == false ]] && [[ "${COMPREPLY-}" =~ [=/:]$ ]]; then
        compopt -o nospace
    fi
}
if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -o nospace -o bashdefault -o nosort -F _clap_complete_NAME BIN
else
    complete -o nospace -o bashdefault -F _clap_complete_NAME BIN
fi
"#;

impl clap_complete::env::EnvCompleter for Bash {
    fn name(&self) -> &'static str {
        "bash"
    }

    fn is(&self, name: &str) -> bool {
        name == "bash"
    }

    fn write_registration(
        &self,
        var: &str,
        name: &str,
        bin: &str,
        completer: &str,
        buf: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        let script = BASH_SCRIPT
            .replace("NAME", &name.replace('-', "_"))
            .replace("BIN", bin)
            .replace("VAR", var)
            .replace("COMPLETER", completer);
        writeln!(buf, "{script}")
    }

    fn write_complete(
        &self,
        cmd: &mut clap::Command,
        args: Vec<OsString>,
        current_dir: Option<&std::path::Path>,
        buf: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        clap_complete::env::Bash.write_complete(cmd, args, current_dir, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(words: &[&str]) -> Line {
        Line::parse(words.iter().map(OsString::from))
    }

    #[test]
    fn reads_db_and_user_from_the_line() {
        let line = parse(&[
            "tokenctl", "--", "tokenctl", "--db", "/x.db", "-u", "bob", "token",
        ]);
        assert_eq!(line.db, Some(PathBuf::from("/x.db")));
        assert_eq!(line.user.as_deref(), Some("bob"));
        let line = parse(&["tokenctl", "--db=/y.db", "--user=carol"]);
        assert_eq!(line.db, Some(PathBuf::from("/y.db")));
        assert_eq!(line.user.as_deref(), Some("carol"));
        let line = parse(&["tokenctl", "-udave"]);
        assert_eq!(line.user.as_deref(), Some("dave"));
        let line = parse(&["tokenctl", "--db"]);
        assert_eq!(line.db, None);
    }
}
