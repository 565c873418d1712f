//! Timestamps as sops and age-keygen write them: RFC 3339 in UTC to the second,
//! `2026-11-22T15:52:47Z`, without a date-time dependency.

use std::time::{SystemTime, UNIX_EPOCH};

/// `time` as RFC 3339 in UTC to the second, `2026-11-22T19:30:00Z`.
pub(crate) fn rfc3339_utc(time: SystemTime) -> String {
    let seconds = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        // Before 1970: round down to the whole second, as for times after.
        Err(before) => {
            let before = before.duration();
            let whole = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
            -whole - i64::from(before.subsec_nanos() > 0)
        }
    };
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01, as (year, month 1-12, day 1-31).
///
/// Howard Hinnant's `civil_from_days`: counts in 400-year eras starting on March 1st, so that the
/// leap day is the last day of a shifted year.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097); // [0, 146096]
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365; // [0, 399]
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100); // [0, 365]
    let shifted_month = (5 * day_of_year + 2) / 153; // [0, 11], 0 is March
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both are in range by construction: day in [1, 31], month in [1, 12].
    (year, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(seconds: i64) -> SystemTime {
        if seconds >= 0 {
            UNIX_EPOCH + Duration::from_secs(seconds.unsigned_abs())
        } else {
            UNIX_EPOCH - Duration::from_secs(seconds.unsigned_abs())
        }
    }

    #[test]
    fn rfc3339_utc_formats_known_instants() {
        for (seconds, expected) in [
            (0, "1970-01-01T00:00:00Z"),
            (59, "1970-01-01T00:00:59Z"),
            (86_399, "1970-01-01T23:59:59Z"),
            (951_782_400, "2000-02-29T00:00:00Z"),
            (951_868_800, "2000-03-01T00:00:00Z"),
            (1_700_000_000, "2023-11-14T22:13:20Z"),
            (1_795_375_800, "2026-11-22T19:30:00Z"),
            (4_107_542_399, "2100-02-28T23:59:59Z"),
            (4_107_542_400, "2100-03-01T00:00:00Z"),
            (253_402_300_799, "9999-12-31T23:59:59Z"),
            (-1, "1969-12-31T23:59:59Z"),
            (-86_400, "1969-12-31T00:00:00Z"),
            (-2_208_988_800, "1900-01-01T00:00:00Z"),
        ] {
            assert_eq!(
                rfc3339_utc(at(seconds)),
                expected,
                "{seconds} s after the epoch"
            );
        }
    }

    #[test]
    fn rfc3339_utc_drops_fractions_of_a_second() {
        assert_eq!(
            rfc3339_utc(UNIX_EPOCH + Duration::from_millis(1_999)),
            "1970-01-01T00:00:01Z"
        );
        assert_eq!(
            rfc3339_utc(UNIX_EPOCH - Duration::from_millis(1)),
            "1969-12-31T23:59:59Z"
        );
    }

    #[test]
    fn civil_from_days_counts_every_day_of_four_centuries() {
        // Day by day from 1900-01-01 to 2300-12-31 (1900 and 2100 are not leap years, 2000 is):
        // each date must be the one after the last.
        let mut previous = civil_from_days(-25_567);
        assert_eq!(previous, (1900, 1, 1));
        for days in -25_566..=120_894 {
            let (year, month, day) = previous;
            let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
            let month_length = match month {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            let expected = if day < month_length {
                (year, month, day + 1)
            } else if month < 12 {
                (year, month + 1, 1)
            } else {
                (year + 1, 1, 1)
            };
            previous = civil_from_days(days);
            assert_eq!(previous, expected, "day {days}");
        }
        assert_eq!(previous, (2300, 12, 31));
    }
}
