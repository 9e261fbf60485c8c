//! Privileges: lists, their stored form, edits, and what a set grants.

use crate::error::{Error, Result};

pub const ALL: &str = "all";

/// Privileges of one token or account, like the allow-list's cap.
pub const MAX_PRIVILEGES: usize = 100;

fn privilege(acl: &str) -> Result<()> {
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

/// The privileges of `--acl` values in their stored form, at most 100.
pub fn privilege_set(values: &[String]) -> Result<Vec<String>> {
    capped(normalize_acls(privileges(values)?))
}

fn capped(acls: Vec<String>) -> Result<Vec<String>> {
    if acls.len() > MAX_PRIVILEGES {
        return Err(Error::usage(format!(
            "too many privileges ({}); at most {MAX_PRIVILEGES}",
            acls.len()
        ))
        .with_hint("group related rights under fewer privileges, or use all"));
    }
    Ok(acls)
}

/// The stored form of a privilege set: sorted, de-duplicated, and `["all"]`
/// when `all` is among them.
pub fn normalize_acls(mut acls: Vec<String>) -> Vec<String> {
    if acls.iter().any(|a| a == ALL) {
        return vec![ALL.to_string()];
    }
    acls.sort();
    acls.dedup();
    acls
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

    /// The privileges after the edit; at least one and at most 100.
    pub fn apply(&self, current: &[String]) -> Result<Vec<String>> {
        let mut acls = self.replace.as_deref().unwrap_or(current).to_vec();
        acls.extend_from_slice(&self.add);
        // Remove before folding into `all`: `--add-acl read --remove-acl
        // all` on an `all` token leaves `read`.
        acls.retain(|a| !self.remove.contains(a));
        let acls = normalize_acls(acls);
        if acls.is_empty() {
            return Err(Error::usage("at least one privilege must remain")
                .with_hint("keep one privilege (see --acl), or revoke or delete instead"));
        }
        capped(acls)
    }
}

/// Whether a privilege set grants `wanted` (`all` grants everything).
pub fn grants(acls: &[String], wanted: &str) -> bool {
    acls.iter().any(|a| a == ALL || a == wanted)
}

/// The privileges of `wanted` that `held` does not grant.
pub fn lacking(held: &[String], wanted: &[String]) -> Vec<String> {
    wanted
        .iter()
        .filter(|w| !grants(held, w))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::strings;

    #[test]
    fn privilege_lists() {
        let got = privileges(&strings(&["write,read", "read", "dns:edit"])).unwrap();
        assert_eq!(normalize_acls(got), strings(&["dns:edit", "read", "write"]));
        let got = privileges(&strings(&["read,all"])).unwrap();
        assert_eq!(normalize_acls(got), strings(&["all"]));
        assert!(privileges(&strings(&["read,"])).is_err());
        assert!(privileges(&strings(&[""])).is_err());
        assert!(privileges(&strings(&["Read"])).is_err());
        assert!(privileges(&strings(&["-x"])).is_err());
        assert!(privileges(&strings(&[&"a".repeat(65)])).is_err());
        let many: Vec<String> = (0..101).map(|i| format!("p{i}")).collect();
        assert!(privilege_set(&many).is_err());
        assert_eq!(privilege_set(&many[..100]).unwrap().len(), 100);
        let edit = AclEdit::parse(&[], &many[..1], &[]).unwrap().unwrap();
        assert!(edit.apply(&many[1..]).is_err());
        assert!(edit.apply(&many[1..100]).is_ok());
    }

    #[test]
    fn privilege_cover() {
        let held = strings(&["read", "write"]);
        assert_eq!(
            lacking(&held, &strings(&["read", "dns"])),
            strings(&["dns"])
        );
        assert!(lacking(&strings(&["all"]), &strings(&["anything"])).is_empty());
        assert_eq!(lacking(&held, &strings(&["all"])), strings(&["all"]));
    }

    #[test]
    fn acl_edits_replace_then_add_then_remove() {
        let current = strings(&["read", "write"]);
        let edit = |replace: &[&str], add: &[&str], remove: &[&str], on: &[String]| {
            AclEdit::parse(&strings(replace), &strings(add), &strings(remove))
                .unwrap()
                .unwrap()
                .apply(on)
        };
        assert_eq!(
            edit(&[], &["dns"], &[], &current).unwrap(),
            strings(&["dns", "read", "write"])
        );
        assert_eq!(
            edit(&["mail"], &["dns"], &["mail"], &current).unwrap(),
            strings(&["dns"])
        );
        assert_eq!(edit(&[], &[], &["absent"], &current).unwrap(), current);
        assert_eq!(
            edit(&[], &["all"], &[], &current).unwrap(),
            strings(&["all"])
        );
        assert!(edit(&[], &[], &["read", "write"], &current).is_err());
        let all = strings(&["all"]);
        assert_eq!(
            edit(&[], &["read"], &["all"], &all).unwrap(),
            strings(&["read"])
        );
        assert!(AclEdit::parse(&[], &[], &[]).unwrap().is_none());
        assert!(AclEdit::parse(&strings(&["a,"]), &[], &[]).is_err());
    }
}
