//! Calendar times in the two forms upstreams send reset times in: RFC 3339 and HTTP-dates
//! (IMF-fixdate, plus the obsolete RFC 850 and asctime forms), as unix milliseconds.

/// RFC 3339 (`2026-11-27T06:30:00Z`, `…06:30:00.123456+02:00`) as unix milliseconds.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let b = text.trim().as_bytes();
    let num = |from: usize, len: usize| digits_value(b.get(from..from + len)?);
    let at = |i: usize, expected: &[u8]| b.get(i).is_some_and(|c| expected.contains(c));
    if !(at(4, b"-") && at(7, b"-") && at(10, b"Tt ") && at(13, b":") && at(16, b":")) {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    let mut i = 19;
    let mut millis = 0;
    if at(i, b".") {
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        let kept = &b[i + 1..i + 1 + digits.min(3)];
        millis = (kept.len()..3).fold(digits_value(kept)?, |acc, _| acc * 10);
        i += 1 + digits;
    }
    let offset_minutes = match b.get(i)? {
        b'Z' | b'z' => {
            i += 1;
            0
        }
        sign @ (b'+' | b'-') => {
            let (hours, minutes) = (num(i + 1, 2)?, num(i + 4, 2)?);
            if !at(i + 3, b":") || hours > 23 || minutes > 59 {
                return None;
            }
            i += 6;
            if *sign == b'-' { -(hours * 60 + minutes) } else { hours * 60 + minutes }
        }
        _ => return None,
    };
    if i != b.len() {
        return None;
    }
    Some(civil_ms(year, month, day, hour, minute, second)? + millis - offset_minutes * 60_000)
}

/// An HTTP-date as unix milliseconds: IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) and the two
/// obsolete forms recipients must still accept (`Sunday, 06-Nov-94 08:49:37 GMT`,
/// `Sun Nov  6 08:49:37 1994`).
pub fn parse_http_date(text: &str) -> Option<i64> {
    let tokens: Vec<&str> = text.split([' ', ',', '-']).filter(|t| !t.is_empty()).take(7).collect();
    let (weekday, day, month, year, time) = match tokens.as_slice() {
        [weekday, day, month, year, time, zone]
            if zone.eq_ignore_ascii_case("gmt") || zone.eq_ignore_ascii_case("utc") =>
        {
            (*weekday, *day, *month, *year, *time)
        }
        [weekday, month, day, time, year] => (*weekday, *day, *month, *year, *time),
        _ => return None,
    };
    if !weekday.bytes().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let year = match (year.len(), digits_value(year.as_bytes())?) {
        (4, year) => year,
        // RFC 850's two-digit years: the nearer century.
        (2, year) if year < 70 => 2000 + year,
        (2, year) => 1900 + year,
        _ => return None,
    };
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(month)).and_then(|m| i64::try_from(m + 1).ok())?;
    let day = if (1..=2).contains(&day.len()) { digits_value(day.as_bytes())? } else { return None };
    let mut clock = time.split(':');
    let mut field = || clock.next().filter(|f| f.len() == 2).and_then(|f| digits_value(f.as_bytes()));
    let (hour, minute, second) = (field()?, field()?, field()?);
    if clock.next().is_some() {
        return None;
    }
    civil_ms(year, month, day, hour, minute, second)
}

const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

/// A short run of ASCII digits as a number (`None` for anything else or more than 9 digits).
fn digits_value(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() || bytes.len() > 9 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(bytes.iter().fold(0, |acc, c| acc * 10 + i64::from(c - b'0')))
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// A UTC calendar time as unix milliseconds; `None` for dates that do not exist. A leap second
/// (`:60`) counts as the first second of the next minute.
fn civil_ms(year: i64, month: i64, day: i64, hour: i64, minute: i64, second: i64) -> Option<i64> {
    const DAYS_BEFORE_MONTH: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    let month_index = usize::try_from(month - 1).ok().filter(|&m| m < 12)?;
    let leap_day = i64::from(is_leap(year) && month > 2);
    let month_days = match month {
        2 => 28 + i64::from(is_leap(year)),
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(0..=9999).contains(&year) || !(1..=month_days).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    // Leap days in the years 1970..year (negative before 1970).
    let leaps_before = |y: i64| (y - 1).div_euclid(4) - (y - 1).div_euclid(100) + (y - 1).div_euclid(400);
    let days =
        (year - 1970) * 365 + leaps_before(year) - leaps_before(1970) + DAYS_BEFORE_MONTH[month_index] + leap_day + day
            - 1;
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000)
}
