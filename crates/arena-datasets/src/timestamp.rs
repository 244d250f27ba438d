//! Unix seconds to and from calendar dates (UTC), without a date crate:
//! all this crate needs is ISO 8601 input for `tstamp` and a readable time
//! span on dataset cards.

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day count since 1970-01-01 (Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (year_of_era + era * 400 + i64::from(month <= 2), month, day)
}

/// Formats Unix seconds as `YYYY-MM-DD HH:MM:SS UTC`.
pub(crate) fn utc_datetime(seconds: f64) -> String {
    let total = seconds.floor() as i64;
    let (year, month, day) = civil_from_days(total.div_euclid(86_400));
    let second_of_day = total.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

/// Parses an ISO 8601 / RFC 3339 date-time into Unix seconds:
/// `YYYY-MM-DD`, optionally followed by `T` or a space and
/// `HH:MM[:SS[.fraction]]`, optionally followed by `Z` or `±HH[:MM]`.
/// Without an offset the time is taken as UTC, which is what dataset dumps
/// (pandas, BigQuery, Hugging Face) mean.
pub(crate) fn parse_datetime(text: &str) -> Option<f64> {
    let text = text.trim();
    let number = |s: &str| -> Option<i64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
    };
    let (date, rest) = text.split_at(text.len().min(10));
    let mut parts = date.split('-');
    let (year, month, day) = (
        number(parts.next()?)?,
        number(parts.next()?)?,
        number(parts.next()?)?,
    );
    if date.len() != 10 || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let mut seconds = (days_from_civil(year, month, day) * 86_400) as f64;
    let rest = match rest.as_bytes().first() {
        None => return Some(seconds),
        Some(b'T' | b't' | b' ') => &rest[1..],
        Some(_) => return None,
    };
    // Split the offset off the time of day.
    let (time, offset) = match rest.find(['Z', 'z', '+', '-']) {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let mut fields = time.trim_end().split(':');
    let hour = number(fields.next()?)?;
    let minute = number(fields.next()?)?;
    let second: f64 = match fields.next() {
        Some(s) if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') && !s.is_empty() => {
            s.parse().ok()?
        }
        Some(_) => return None,
        None => 0.0,
    };
    if fields.next().is_some() || hour > 23 || minute > 59 || second >= 61.0 {
        return None;
    }
    seconds += (hour * 3600 + minute * 60) as f64 + second;
    match offset.as_bytes().first() {
        None | Some(b'Z' | b'z') if offset.len() <= 1 => {}
        Some(sign @ (b'+' | b'-')) => {
            let digits = offset[1..].replace(':', "");
            if digits.len() != 2 && digits.len() != 4 {
                return None;
            }
            let hours = number(&digits[..2])?;
            let minutes = if digits.len() == 4 {
                number(&digits[2..])?
            } else {
                0
            };
            let shift = (hours * 3600 + minutes * 60) as f64;
            // 12:00+02:00 is 10:00 UTC.
            seconds += if *sign == b'+' { -shift } else { shift };
        }
        _ => return None,
    }
    Some(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_dates() {
        assert_eq!(utc_datetime(0.0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_datetime(1_709_251_200.5), "2024-03-01 00:00:00 UTC");
        assert_eq!(utc_datetime(951_782_400.0), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_datetime(-1.0), "1969-12-31 23:59:59 UTC");
    }

    #[test]
    fn parses_iso_datetimes() {
        let cases = [
            ("1970-01-01", Some(0.0)),
            ("2024-03-01T00:00:00Z", Some(1_709_251_200.0)),
            ("2024-03-01 00:00:00.25", Some(1_709_251_200.25)),
            ("2024-03-01T02:00:00+02:00", Some(1_709_251_200.0)),
            ("2024-02-29T23:00-01", Some(1_709_251_200.0)),
            ("2000-02-29T00:00:00z", Some(951_782_400.0)),
            ("2024-13-01", None),
            ("2024-03-01X", None),
            ("2024-03-01T25:00:00", None),
            ("1700000000", None),
            ("", None),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_datetime(text), expected, "{text}");
        }
        for seconds in [0.0, 951_782_400.0, 1_709_251_200.0, -86_400.0 * 365.0] {
            let text = utc_datetime(seconds);
            let iso = text.trim_end_matches(" UTC");
            assert_eq!(parse_datetime(iso), Some(seconds), "{text}");
        }
    }
}
