//! WHEN and DUR: durations, grace periods, expiries and `--since`.

use chrono::{DateTime, Local, NaiveDate, TimeZone, Timelike, Utc};

use crate::error::{Error, Result};

/// 9999-12-31T23:59:59Z: times stay four-digit-year RFC 3339.
const LATEST: i64 = 253_402_300_799;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
