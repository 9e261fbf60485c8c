//! Parsing and validation of the values users type: names, privileges,
//! WHEN and DUR, networks and globs. Every refusal is a usage error (exit 2)
//! whose message names the bad value and the rule it broke.

use std::net::IpAddr;

use chrono::{DateTime, Local, NaiveDate, TimeZone, Timelike, Utc};
use ipnet::{IpNet, Ipv4Net};

use crate::error::{Error, Result};

pub const ALL: &str = "all";
pub const MAX_ALLOW_IPS: usize = 100;
/// Privileges of one token or account, like the allow-list's cap.
pub const MAX_PRIVILEGES: usize = 100;
/// 9999-12-31T23:59:59Z: times stay four-digit-year RFC 3339.
const LATEST: i64 = 253_402_300_799;

/// Refuses a value holding a token's shape: a pasted plaintext must never
/// become a name, note or filter (and so reach the store or audit trail).
/// The value itself is not quoted.
fn no_token(what: &str, text: &str) -> Result<()> {
    if crate::token::contains_token_shape(text) {
        return Err(
            Error::usage(format!("{what} cannot contain a token")).with_hint(
                "tokens are read from stdin or TOKENCTL_TOKEN, never from arguments or stored as data",
            ),
        );
    }
    Ok(())
}

/// A token name: 1 to 50 of `A-Z a-z 0-9 - _`.
pub fn token_name(name: &str) -> Result<()> {
    no_token("a token name", name)?;
    let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if name.is_empty() || name.len() > 50 || !name.chars().all(ok_char) {
        return Err(
            Error::usage(format!("invalid token name {name:?}")).with_hint(
                "a token name is 1 to 50 characters of A-Z a-z 0-9 - _ (e.g. deploy-prod)",
            ),
        );
    }
    Ok(())
}

/// An account name: 1 to 64 of `A-Z a-z 0-9 . _ - @`, not starting with `-`.
pub fn account_name(name: &str) -> Result<()> {
    no_token("an account name", name)?;
    let ok_char = |c: char| c.is_ascii_alphanumeric() || ".-_@".contains(c);
    if name.is_empty() || name.len() > 64 || name.starts_with('-') || !name.chars().all(ok_char) {
        return Err(
            Error::usage(format!("invalid account name {name:?}")).with_hint(
                "an account name is 1 to 64 characters of A-Z a-z 0-9 . _ - @, not starting with -",
            ),
        );
    }
    Ok(())
}

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

/// A DUR: one positive integer and one unit of `s m h d w y`, in seconds.
pub fn duration(text: &str) -> Result<i64> {
    parse_duration(text).ok_or_else(|| {
        Error::usage(format!("invalid duration {text:?}"))
            .with_hint("a duration is a positive number and a unit: 45s, 30m, 12h, 90d, 2w, 1y")
    })
}

/// A grace period: a DUR or `0`.
pub fn grace(text: &str) -> Result<i64> {
    if text == "0" {
        return Ok(0);
    }
    duration(text)
}

fn parse_duration(text: &str) -> Option<i64> {
    let unit = text.chars().last()?;
    let digits = &text[..text.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seconds_per_unit: i64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        'y' => 365 * 86_400,
        _ => return None,
    };
    let count: i64 = digits.parse().ok()?;
    // Anything past year 9999 is not a meaningful expiry; refuse it rather
    // than overflow further on.
    let seconds = count.checked_mul(seconds_per_unit)?;
    (count > 0 && seconds <= 8000 * 365 * 86_400).then_some(seconds)
}

/// A WHEN for `--expires`: `None` for `never`, else a Unix time in the
/// future. A date means 23:59:59 local time on that day.
pub fn expiry(text: &str, now: DateTime<Utc>) -> Result<Option<i64>> {
    if text == "never" {
        return Ok(None);
    }
    let at = moment(text, now, DayPart::LastSecond, Direction::FromNow).ok_or_else(|| {
        Error::usage(format!("invalid expiry {text:?}")).with_hint(
            "use never, a date (2027-01-31), an RFC 3339 time (2027-01-31T12:00:00Z) or a duration (90d)",
        )
    })?;
    if at > LATEST {
        return Err(
            Error::usage(format!("expiry {text:?} is after the year 9999"))
                .with_hint("give an earlier moment, or never"),
        );
    }
    if at <= now.timestamp() {
        return Err(Error::usage(format!("expiry {text:?} is in the past"))
            .with_hint("give a moment in the future, or never"));
    }
    Ok(Some(at))
}

/// A `--since` for the audit log: RFC 3339, a date (00:00 local), or a DUR
/// meaning that long ago.
pub fn since(text: &str, now: DateTime<Utc>) -> Result<i64> {
    moment(text, now, DayPart::FirstSecond, Direction::Ago).ok_or_else(|| {
        Error::usage(format!("invalid time {text:?}")).with_hint(
            "use a date (2026-11-01), an RFC 3339 time (2026-11-01T12:00:00Z) or a duration (7d)",
        )
    })
}

enum DayPart {
    FirstSecond,
    LastSecond,
}

enum Direction {
    FromNow,
    Ago,
}

fn moment(text: &str, now: DateTime<Utc>, day: DayPart, dir: Direction) -> Option<i64> {
    if let Some(seconds) = parse_duration(text) {
        return match dir {
            Direction::FromNow => now.timestamp().checked_add(seconds),
            Direction::Ago => now.timestamp().checked_sub(seconds),
        };
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        // chrono takes :60 in any minute as a leap second and counts it as
        // :59; no stored time can say it, so refuse rather than shift it.
        if at.nanosecond() >= 1_000_000_000 {
            return None;
        }
        return Some(at.timestamp());
    }
    // Exactly YYYY-MM-DD: chrono alone would also take 2027-1-5.
    let shape_ok = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if !shape_ok {
        return None;
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let time = match day {
        DayPart::FirstSecond => date.and_hms_opt(0, 0, 0)?,
        DayPart::LastSecond => date.and_hms_opt(23, 59, 59)?,
    };
    // `earliest` picks a sensible instant when a DST change makes the local
    // time ambiguous; a local time that does not exist falls back to UTC+offset
    // of the day before the jump.
    match Local.from_local_datetime(&time).earliest() {
        Some(local) => Some(local.timestamp()),
        None => {
            // The clock jumped over this time: use the offset in force just
            // after the jump.
            let offset = *Local.from_utc_datetime(&time).offset();
            offset
                .from_local_datetime(&time)
                .single()
                .map(|t| t.timestamp())
        }
    }
}

/// An allow-list entry: an IPv4/IPv6 address or CIDR block; a single
/// address is stored as the bare address, and an IPv4-mapped IPv6 one
/// (`::ffff:10.0.0.0/104`) as the IPv4 it stands for (`10.0.0.0/8`).
pub fn network(text: &str) -> Result<String> {
    Ok(display_network(ip_net(text)?))
}

/// An address or CIDR block as a network.
pub fn ip_net(text: &str) -> Result<IpNet> {
    let net = match text.parse::<IpAddr>() {
        Ok(addr) => IpNet::from(addr),
        Err(_) => text.parse::<IpNet>().map_err(|_| {
            Error::usage(format!("invalid IP address or network {text:?}")).with_hint(
                "use an address or a CIDR block: 203.0.113.7, 203.0.113.0/24, 2001:db8::/32",
            )
        })?,
    };
    // 10.0.0.7/8 is most likely a typo for 10.0.0.7 (or /32): taking it as
    // 10.0.0.0/8 would open a whole block without a word.
    if net != net.trunc() {
        return Err(
            Error::usage(format!("{text:?} has bits set past its prefix")).with_hint(format!(
                "write {} for the block, or {} for one address",
                net.trunc(),
                net.addr()
            )),
        );
    }
    Ok(unmapped(net))
}

/// An IPv4-mapped IPv6 network (inside `::ffff:0:0/96`) as plain IPv4:
/// clients are compared as IPv4, so only that form can ever match. A
/// shorter IPv6 prefix (`::/0`) stays IPv6 and matches IPv6 clients only.
fn unmapped(net: IpNet) -> IpNet {
    let IpNet::V6(v6) = net else {
        return net;
    };
    let Some(v4) = v6.addr().to_ipv4_mapped() else {
        return net;
    };
    match v6.prefix_len().checked_sub(96) {
        Some(len) => Ipv4Net::new(v4, len).map_or(net, IpNet::V4),
        None => net,
    }
}

/// Characters a note cannot hold: controls, line breaks, bidi overrides
/// and isolates (a terminal acts on them, see `output::disrupts_terminal`)
/// and non-characters (YAML readers refuse them).
fn forbidden_in_note(c: char) -> bool {
    let non_character = matches!(c, '\u{fdd0}'..='\u{fdef}') || u32::from(c) & 0xfffe == 0xfffe;
    crate::output::disrupts_terminal(c) || non_character
}

/// A note: free text on one line, without the characters of
/// `forbidden_in_note` or a token. Empty means none.
pub fn note(text: &str) -> Result<Option<String>> {
    no_token("a note", text)?;
    if let Some(c) = text.chars().find(|&c| forbidden_in_note(c)) {
        return Err(Error::usage(format!(
            "a note cannot contain control characters, line breaks, bidi overrides or non-characters (found U+{:04X})",
            u32::from(c)
        ))
        .with_hint("write the note on one line of plain text"));
    }
    Ok(Some(text.to_string()).filter(|n| !n.is_empty()))
}

fn display_network(net: IpNet) -> String {
    if net.prefix_len() == net.max_prefix_len() {
        net.addr().to_string()
    } else {
        net.to_string()
    }
}

/// A whole allow-list: entries validated, de-duplicated, at most 100.
pub fn networks(values: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for value in values {
        let net = network(value)?;
        if !out.contains(&net) {
            out.push(net);
        }
    }
    if out.len() > MAX_ALLOW_IPS {
        return Err(Error::usage(format!(
            "too many allow-list entries ({}); at most {MAX_ALLOW_IPS}",
            out.len()
        ))
        .with_hint("use CIDR blocks to cover several addresses"));
    }
    Ok(out)
}

/// An address given to `verify --ip`; an IPv4-mapped IPv6 address is
/// the IPv4 client it stands for.
pub fn address(text: &str) -> Result<IpAddr> {
    text.parse::<IpAddr>()
        .map(|a| a.to_canonical())
        .map_err(|_| {
            Error::usage(format!("invalid IP address {text:?}"))
                .with_hint("give one address, such as 203.0.113.7 or 2001:db8::1")
        })
}

/// Whether `addr` lies inside any of the stored allow-list entries.
pub fn allowed(allow_list: &[String], addr: IpAddr) -> bool {
    allow_list.iter().any(|entry| {
        // Entries stored before mapped ones were unmapped on input match
        // as what they stand for too.
        let net = entry
            .parse::<IpNet>()
            .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
            .map(unmapped);
        // An IPv4 client seen through an IPv6 socket is still that client.
        net.is_ok_and(|net| net.contains(&addr.to_canonical()))
    })
}

/// A `--search` text.
pub fn search(text: &str) -> Result<()> {
    no_token("a --search text", text)
}

/// A `--match` glob: `*`, `?` and `[...]`, case-sensitive, on the whole name.
pub fn glob(text: &str) -> Result<glob::Pattern> {
    no_token("a --match pattern", text)?;
    // A shell reads `**` in a name as `*`; the glob crate keeps it for
    // paths and refuses it inside a word.
    let mut pattern = text.to_string();
    while pattern.contains("**") {
        pattern = pattern.replace("**", "*");
    }
    glob::Pattern::new(&pattern).map_err(|e| {
        Error::usage(format!("invalid pattern {text:?}: {}", e.msg))
            .with_hint("use * ? and [...] as in the shell, and quote the pattern")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn token_names() {
        assert!(token_name("deploy-runner_2").is_ok());
        assert!(token_name(&"a".repeat(50)).is_ok());
        assert!(token_name(&"a".repeat(51)).is_err());
        for bad in ["", "has space", "dot.name", "ünï", "semi;colon"] {
            assert!(token_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn account_names() {
        assert!(account_name("alice@example.com").is_ok());
        assert!(account_name("a.b_c-d").is_ok());
        assert!(account_name(&"a".repeat(64)).is_ok());
        assert!(account_name(&"a".repeat(65)).is_err());
        assert!(account_name("-alice").is_err());
        assert!(account_name("al ice").is_err());
    }

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

    #[test]
    fn durations() {
        assert_eq!(duration("45s").unwrap(), 45);
        assert_eq!(duration("30m").unwrap(), 1800);
        assert_eq!(duration("12h").unwrap(), 43_200);
        assert_eq!(duration("90d").unwrap(), 90 * 86_400);
        assert_eq!(duration("2w").unwrap(), 14 * 86_400);
        assert_eq!(duration("1y").unwrap(), 365 * 86_400);
        for bad in [
            "0d",
            "0",
            "d",
            "1",
            "1.5d",
            "-1d",
            "1d2h",
            "1D",
            " 1d",
            "99999999999999999999y",
        ] {
            assert!(duration(bad).is_err(), "{bad:?}");
        }
        assert_eq!(grace("0").unwrap(), 0);
        assert_eq!(grace("1h").unwrap(), 3600);
    }

    #[test]
    fn expiries() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(expiry("never", now).unwrap(), None);
        assert_eq!(expiry("1d", now).unwrap(), Some(now.timestamp() + 86_400));
        assert_eq!(
            expiry("2027-01-01T00:00:00+01:00", now).unwrap(),
            Some(1_798_758_000)
        );
        assert!(expiry("2026-11-23T11:59:59Z", now).is_err());
        assert!(expiry("2020-01-01", now).is_err());
        assert!(expiry("2027-02-30", now).is_err());
        assert!(expiry("2027-1-5", now).is_err());
        assert!(expiry("tomorrow", now).is_err());
        assert!(expiry("7999y", now).is_err());
        assert!(expiry("9998-12-31", now).is_ok());
        assert!(expiry("2030-01-01T00:00:60Z", now).is_err(), "leap second");
        assert!(expiry("2030-06-30T23:59:60Z", now).is_err(), "leap second");
        assert!(expiry("2030-01-01T00:00:59Z", now).is_ok());
    }

    #[test]
    fn networks_are_normalised() {
        assert_eq!(network("203.0.113.7").unwrap(), "203.0.113.7");
        assert_eq!(network("203.0.113.0/24").unwrap(), "203.0.113.0/24");
        assert_eq!(network("2001:db8::/32").unwrap(), "2001:db8::/32");
        assert!(
            network("203.0.113.7/24").is_err(),
            "host bits past the prefix"
        );
        assert!(network("2001:db8::1/32").is_err());
        assert_eq!(network("10.0.0.1/32").unwrap(), "10.0.0.1");
        for bad in ["300.1.1.1", "10.0.0.0/33", "example.com", "", "10.0.0.0/"] {
            assert!(network(bad).is_err(), "{bad:?}");
        }
        let list = networks(&strings(&["10.0.0.1", "10.0.0.1/32", "10.1.0.0/16"])).unwrap();
        assert_eq!(list, strings(&["10.0.0.1", "10.1.0.0/16"]));
        assert_eq!(network("::ffff:10.0.0.1").unwrap(), "10.0.0.1");
        assert_eq!(network("::ffff:10.0.0.0/104").unwrap(), "10.0.0.0/8");
        assert_eq!(network("::ffff:0:0/96").unwrap(), "0.0.0.0/0");
        assert_eq!(network("::ffff:10.0.0.1/128").unwrap(), "10.0.0.1");
        assert_eq!(network("::/0").unwrap(), "::/0");
        assert_eq!(network("::fffc:0:0/94").unwrap(), "::fffc:0:0/94");
        let many: Vec<String> = (0..101).map(|i| format!("10.0.0.{i}")).collect();
        assert!(networks(&many).is_err());
    }

    #[test]
    fn notes_are_one_line_of_text() {
        assert_eq!(
            note("runner 4 ünïcode").unwrap().as_deref(),
            Some("runner 4 ünïcode")
        );
        assert_eq!(note("").unwrap(), None);
        assert!(note("a\nb").is_err());
        assert!(note("\u{1b}[31mred").is_err());
        for bad in [
            "\u{85}",
            "\u{9b}",
            "\u{202e}",
            "\u{2067}",
            "\u{2028}",
            "\u{2029}",
            "\u{fdd0}",
            "\u{fffe}",
            "\u{ffff}",
            "\u{1fffe}",
            "\u{10ffff}",
        ] {
            assert!(note(&format!("a{bad}b")).is_err(), "{bad:?}");
        }
        assert!(note("\u{200f}\u{fdcf}\u{fdf0}\u{fffd}\u{1f600}").is_ok());
    }

    #[test]
    fn allow_list_membership() {
        let list = strings(&["203.0.113.0/24", "2001:db8::1"]);
        assert!(allowed(&list, "203.0.113.200".parse().unwrap()));
        assert!(allowed(&list, "::ffff:203.0.113.9".parse().unwrap()));
        assert!(allowed(&list, "2001:db8::1".parse().unwrap()));
        assert!(!allowed(&list, "203.0.114.1".parse().unwrap()));
        assert!(!allowed(&list, "2001:db8::2".parse().unwrap()));
        // As stored before mapped entries were unmapped on input.
        let mapped = strings(&["::ffff:10.0.0.0/104"]);
        assert!(allowed(&mapped, "10.1.2.3".parse().unwrap()));
        assert!(allowed(&mapped, "::ffff:10.1.2.3".parse().unwrap()));
    }

    #[test]
    fn globs() {
        let opts = glob::MatchOptions::new();
        assert!(glob("ci-*").unwrap().matches_with("ci-prod", opts));
        assert!(!glob("ci-*").unwrap().matches_with("CI-prod", opts));
        assert!(glob("[").is_err());
        assert!(glob("ci-**").unwrap().matches_with("ci-prod", opts));
    }
}
