//! Privileges: lists, their stored form, edits, and what a set grants.

use serde::Serialize;

use crate::error::{Error, Result};

pub const ALL: &str = "all";

/// Privileges of one token or account, like the allow-list's cap.
pub const MAX_PRIVILEGES: usize = 100;

/// One privilege: its characters and length.
pub fn privilege(acl: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "._:-".contains(c);
    let ok_first = acl
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !ok_first || acl.len() > 64 || !acl.chars().all(ok_char) {
        return Err(Error::usage(format!("invalid privilege {acl:?}")).with_hint(
            "a privilege is 1 to 64 characters of a-z 0-9 . _ : -, starting with a letter or digit",
        ));
    }
    Ok(())
}

/// The names of `known` close to `name` (a typo, a missing prefix or
/// suffix), closest first, at most three.
pub fn close_matches<'k>(name: &str, known: &'k [String]) -> Vec<&'k str> {
    let mut close: Vec<(usize, &str)> = known
        .iter()
        .filter_map(|k| {
            let distance = edit_distance(name, k);
            let near = distance <= 2.max(name.len() / 4)
                || (name.len() >= 3 && (k.contains(name) || name.contains(k.as_str())));
            near.then_some((distance, k.as_str()))
        })
        .collect();
    close.sort();
    close.into_iter().take(3).map(|(_, k)| k).collect()
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Splits the values of repeated `--acl`-style flags (each may be a comma
/// list) into validated privileges, without normalising the set.
pub fn privileges(values: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for value in values {
        for element in value.split(',') {
            if element.is_empty() {
                return Err(Error::usage(format!("empty privilege in {value:?}"))
                    .with_hint("write privileges as --acl read,write or --acl read --acl write"));
            }
            privilege(element)?;
            out.push(element.to_string());
        }
    }
    Ok(out)
}

/// A privilege set in its stored form: sorted, de-duplicated, and
/// `["all"]` when `all` is among them. Every constructor normalises, so a
/// set is compared, checked and shown without normalising again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Privileges(Vec<String>);

impl Privileges {
    /// The set given by `--acl`-style values: validated, at most 100.
    pub fn parse(values: &[String]) -> Result<Privileges> {
        normalised(privileges(values)?).capped()
    }

    /// The privileges a check asks for (`verify --acl`, serve's `?acl=`):
    /// validated, not capped, as asking for many grants nothing.
    pub fn wanted(values: &[String]) -> Result<Privileges> {
        Ok(normalised(privileges(values)?))
    }

    /// A set as the store holds it (normalised again, so a hand-edited
    /// row still compares and grants as its stored form would).
    pub fn from_stored(acls: Vec<String>) -> Privileges {
        normalised(acls)
    }

    /// `all`: every privilege.
    pub fn all() -> Privileges {
        Privileges(vec![ALL.to_string()])
    }

    fn capped(self) -> Result<Privileges> {
        if self.0.len() > MAX_PRIVILEGES {
            return Err(Error::usage(format!(
                "too many privileges ({}); at most {MAX_PRIVILEGES}",
                self.0.len()
            ))
            .with_hint("group related rights under fewer privileges, or use all"));
        }
        Ok(self)
    }

    fn holds_all(&self) -> bool {
        self.0.iter().any(|a| a == ALL)
    }

    /// Whether the set grants `wanted` (`all` grants everything).
    pub fn grants(&self, wanted: &str) -> bool {
        self.holds_all() || self.0.iter().any(|a| a == wanted)
    }

    /// The privileges of `wanted` this set does not grant.
    pub fn lacking<'w>(&self, wanted: &'w Privileges) -> Vec<&'w str> {
        wanted.iter().filter(|w| !self.grants(w)).collect()
    }

    /// What this set (a token's) grants while `account` holds what it
    /// holds: `all` on either side defers to the other.
    pub fn within(&self, account: &Privileges) -> Privileges {
        if account.holds_all() {
            return self.clone();
        }
        if self.holds_all() {
            return account.clone();
        }
        Privileges(
            self.0
                .iter()
                .filter(|a| account.0.contains(a))
                .cloned()
                .collect(),
        )
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// The stored form, for the store's column.
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The privileges joined by `sep`, for tables and the audit trail.
    pub fn join(&self, sep: &str) -> String {
        self.0.join(sep)
    }
}

/// The one place a list becomes a set.
fn normalised(mut acls: Vec<String>) -> Privileges {
    if acls.iter().any(|a| a == ALL) {
        return Privileges::all();
    }
    acls.sort();
    acls.dedup();
    Privileges(acls)
}

/// A privilege edit: `replace` (if given) replaces the current set, then
/// `add` adds and `remove` removes (an absent one changes nothing).
#[derive(Debug)]
pub struct AclEdit {
    replace: Option<Vec<String>>,
    add: Vec<String>,
    remove: Vec<String>,
}

impl AclEdit {
    /// The values of --acl, --add-acl and --remove-acl; `None` when all
    /// three are empty.
    pub fn parse(replace: &[String], add: &[String], remove: &[String]) -> Result<Option<AclEdit>> {
        if replace.is_empty() && add.is_empty() && remove.is_empty() {
            return Ok(None);
        }
        Ok(Some(AclEdit {
            replace: (!replace.is_empty())
                .then(|| privileges(replace))
                .transpose()?,
            add: privileges(add)?,
            remove: privileges(remove)?,
        }))
    }

    /// The privileges named by --acl and --add-acl, as given.
    pub fn asked(&self) -> Vec<String> {
        let replaced = self.replace.iter().flatten();
        replaced.chain(&self.add).cloned().collect()
    }

    /// The privileges after the edit; at least one and at most 100.
    pub fn apply(&self, current: &Privileges) -> Result<Privileges> {
        let mut acls = self.replace.as_deref().unwrap_or(&current.0).to_vec();
        acls.extend_from_slice(&self.add);
        // Remove before folding into `all`: `--add-acl read --remove-acl
        // all` on an `all` token leaves `read`.
        acls.retain(|a| !self.remove.contains(a));
        let acls = normalised(acls);
        if acls.is_empty() {
            return Err(Error::usage("at least one privilege must remain")
                .with_hint("keep one privilege (see --acl), or revoke or delete instead"));
        }
        acls.capped()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::strings;

    fn set(acls: &[&str]) -> Privileges {
        Privileges::from_stored(strings(acls))
    }

    #[test]
    fn privilege_lists() {
        let got = Privileges::parse(&strings(&["write,read", "read", "dns:edit"])).unwrap();
        assert_eq!(got.as_slice(), strings(&["dns:edit", "read", "write"]));
        let got = Privileges::parse(&strings(&["read,all"])).unwrap();
        assert_eq!(got.as_slice(), strings(&["all"]));
        assert!(privileges(&strings(&["read,"])).is_err());
        assert!(privileges(&strings(&[""])).is_err());
        assert!(privileges(&strings(&["Read"])).is_err());
        assert!(privileges(&strings(&["-x"])).is_err());
        assert!(privileges(&strings(&[&"a".repeat(65)])).is_err());
        let many: Vec<String> = (0..101).map(|i| format!("p{i}")).collect();
        assert!(Privileges::parse(&many).is_err());
        assert_eq!(Privileges::parse(&many[..100]).unwrap().len(), 100);
        let edit = AclEdit::parse(&[], &many[..1], &[]).unwrap().unwrap();
        assert!(
            edit.apply(&Privileges::from_stored(many[1..].to_vec()))
                .is_err()
        );
        assert!(
            edit.apply(&Privileges::from_stored(many[1..100].to_vec()))
                .is_ok()
        );
    }

    #[test]
    fn every_constructor_normalises() {
        assert_eq!(
            set(&["write", "read", "write"]).as_slice(),
            strings(&["read", "write"])
        );
        assert_eq!(set(&["read", "all"]), Privileges::all());
        let wanted = Privileges::wanted(&strings(&["b,a", "all"])).unwrap();
        assert_eq!(wanted, Privileges::all());
        // Asking is not capped: many privileges only grant less.
        let many: Vec<String> = (0..101).map(|i| format!("p{i}")).collect();
        assert_eq!(Privileges::wanted(&many).unwrap().len(), 101);
        assert!(Privileges::wanted(&strings(&["Read"])).is_err());
        assert!(Privileges::wanted(&[]).unwrap().is_empty());
    }

    #[test]
    fn serialises_as_its_stored_list() {
        let json = serde_json::to_string(&set(&["write", "read"])).unwrap();
        assert_eq!(json, r#"["read","write"]"#);
        assert_eq!(set(&["read", "write"]).join(", "), "read, write");
    }

    #[test]
    fn close_matches_are_typos_and_parts() {
        let known = strings(&["deploy", "dns:edit", "read", "write"]);
        assert_eq!(close_matches("delpoy", &known), ["deploy"]);
        assert_eq!(close_matches("edit", &known), ["dns:edit"]);
        assert_eq!(close_matches("raed", &known), ["read"]);
        assert!(close_matches("frobnicate", &known).is_empty());
    }

    #[test]
    fn privilege_cover() {
        let held = set(&["read", "write"]);
        assert_eq!(held.lacking(&set(&["read", "dns"])), ["dns"]);
        assert!(Privileges::all().lacking(&set(&["anything"])).is_empty());
        assert_eq!(held.lacking(&Privileges::all()), ["all"]);
        assert!(held.grants("read"));
        assert!(!held.grants("dns"));
        assert!(Privileges::all().grants("dns"));
    }

    #[test]
    fn a_token_holds_what_its_account_still_holds() {
        let account = set(&["deploy", "read"]);
        assert_eq!(set(&["admin", "deploy"]).within(&account), set(&["deploy"]));
        assert_eq!(Privileges::all().within(&account), account);
        assert_eq!(account.within(&Privileges::all()), account);
        assert_eq!(
            Privileges::all().within(&Privileges::all()),
            Privileges::all()
        );
        assert!(set(&["admin"]).within(&account).is_empty());
    }

    #[test]
    fn acl_edits_replace_then_add_then_remove() {
        let current = set(&["read", "write"]);
        let edit = |replace: &[&str], add: &[&str], remove: &[&str], on: &Privileges| {
            AclEdit::parse(&strings(replace), &strings(add), &strings(remove))
                .unwrap()
                .unwrap()
                .apply(on)
        };
        assert_eq!(
            edit(&[], &["dns"], &[], &current).unwrap(),
            set(&["dns", "read", "write"])
        );
        assert_eq!(
            edit(&["mail"], &["dns"], &["mail"], &current).unwrap(),
            set(&["dns"])
        );
        assert_eq!(edit(&[], &[], &["absent"], &current).unwrap(), current);
        assert_eq!(
            edit(&[], &["all"], &[], &current).unwrap(),
            Privileges::all()
        );
        assert!(edit(&[], &[], &["read", "write"], &current).is_err());
        assert_eq!(
            edit(&[], &["read"], &["all"], &Privileges::all()).unwrap(),
            set(&["read"])
        );
        assert!(AclEdit::parse(&[], &[], &[]).unwrap().is_none());
        assert!(AclEdit::parse(&strings(&["a,"]), &[], &[]).is_err());
    }
}
