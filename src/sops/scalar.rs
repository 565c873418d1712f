//! Scalars as sops sees them: go-yaml v3's resolution of plain YAML scalars, and Go's formatting of
//! floats and times, which decide the bytes that are encrypted and hashed (SOPS_FORMAT.md §2, §5).

use std::borrow::Cow;

use zeroize::Zeroizing;

use super::tree::{Kind, Leaf};

/// Resolves an untagged plain (unquoted) YAML scalar the way go-yaml v3 does: `yes`/`on` stay
/// strings, `0x1F`/`0o17`/`017` are ints (31, 15, 15), `1_000` is 1000, `1e3` a float, `.inf`
/// and `.nan` floats, `~`/`null`/empty are null, `2024-01-02` a time. `None` means null. A
/// string keeps `text`'s own buffer when it is owned (the parser's copy, not copied again).
pub(crate) fn resolve_plain(text: Cow<'_, str>) -> Option<Leaf> {
    match resolve_other_than_string(&text) {
        Some(resolved) => resolved,
        None => Some(Leaf::new(Kind::Str, text.into_owned())),
    }
}

/// Whether plain `text` resolves to a string, as [`resolve_plain`] would; without building the
/// string's leaf (the emitter asks this of every string it writes).
pub(crate) fn plain_is_string(text: &str) -> bool {
    resolve_other_than_string(text).is_none()
}

/// What plain `text` resolves to when that is not a string (`Some(None)` for null).
fn resolve_other_than_string(text: &str) -> Option<Option<Leaf>> {
    let leaf = |kind, text: &str| Some(Some(Leaf::new(kind, text)));
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Some(None),
        "true" | "True" | "TRUE" => return leaf(Kind::Bool, "True"),
        "false" | "False" | "FALSE" => return leaf(Kind::Bool, "False"),
        ".nan" | ".NaN" | ".NAN" => return leaf(Kind::Float, "NaN"),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return leaf(Kind::Float, "+Inf"),
        "-.inf" | "-.Inf" | "-.INF" => return leaf(Kind::Float, "-Inf"),
        _ => {}
    }
    let number_like = |c: u8| c.is_ascii_digit() || c == b'+' || c == b'-';
    let first = text.as_bytes()[0];
    let resolved = if first == b'.' {
        finite_float(text).map(|f| Leaf::new(Kind::Float, format_float(f)))
    } else if number_like(first) {
        resolve_number(text)
    } else {
        None
    };
    resolved.map(Some)
}

/// go-yaml v3's order for scalars that start with a digit or sign: timestamp, int (Go's base-0
/// `ParseInt` after removing `_`), unsigned int, then a YAML-style float.
fn resolve_number(text: &str) -> Option<Leaf> {
    if let Some(time) = parse_timestamp(text) {
        return Some(Leaf::new(Kind::Time, time));
    }
    // A copy of the text, which may be a value that only looks like a number.
    let plain = Zeroizing::new(text.replace('_', ""));
    if let Some(int) = parse_go_int(&plain) {
        return Some(Leaf::new(Kind::Int, int.to_string()));
    }
    if let Some(uint) = parse_go_uint(&plain) {
        return Some(Leaf::new(Kind::Int, uint.to_string()));
    }
    if is_yaml_style_float(&plain) {
        return finite_float(&plain).map(|f| Leaf::new(Kind::Float, format_float(f)));
    }
    None
}

/// Go's `strconv.ParseInt(s, 0, 64)`: optional sign, then `0x`, `0o`, `0b`, a leading `0`
/// (octal) or decimal digits.
fn parse_go_int(text: &str) -> Option<i64> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = parse_go_uint(digits)?;
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Go's `strconv.ParseUint(s, 0, 64)`: no sign.
fn parse_go_uint(text: &str) -> Option<u64> {
    let lower = |prefix: &str| {
        text.get(..2)
            .filter(|p| p.eq_ignore_ascii_case(prefix))
            .map(|_| &text[2..])
    };
    let (radix, digits) = if let Some(rest) = lower("0x") {
        (16, rest)
    } else if let Some(rest) = lower("0o") {
        (8, rest)
    } else if let Some(rest) = lower("0b") {
        (2, rest)
    } else if text.len() > 1 && text.starts_with('0') {
        (8, &text[1..])
    } else {
        (10, text)
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// go-yaml's `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_style_float(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = usize::from(matches!(bytes.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == bytes.len()
}

/// Go's `ParseFloat` on text go-yaml already vetted; an overflow to infinity is an error in Go,
/// which leaves the scalar a string.
fn finite_float(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: shortest round-trip digits, never an exponent, no
/// trailing `.0`; `+Inf`, `-Inf`, `NaN` for the specials. Rust's `{}` matches it for finite values.
pub(crate) fn format_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_owned()
    } else if f.is_infinite() {
        if f > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{f}")
    }
}

/// How go-yaml v3 writes a float (`FormatFloat(f, 'g', -1, 64)`): `1000`, `0.75`, `1e+20`,
/// `1e-06`, `.inf`. `ToBytes` text (`format_float`) is the input.
///
/// One exception: negative zero. go-yaml writes `-0`, which reads back as the int 0, so sops
/// cannot decrypt a file it wrote with an unencrypted `-0.0` (its MAC has `-0`; SOPS_FORMAT.md
/// §8). `-0.0` reads back as the float it was, in both tools.
pub(crate) fn yaml_float(to_bytes: &[u8]) -> String {
    match to_bytes {
        b"+Inf" => ".inf".to_owned(),
        b"-Inf" => "-.inf".to_owned(),
        b"NaN" => ".nan".to_owned(),
        b"-0" => "-0.0".to_owned(),
        text => go_exponent_form(text, |exponent| !(-4..6).contains(&exponent), true),
    }
}

/// How Go's `encoding/json` writes a float: `'f'` form between 1e-6 and 1e21, else `'e'` form with
/// the exponent's leading zero removed (`1e-7`, `1e+21`).
pub(crate) fn json_float(to_bytes: &[u8]) -> String {
    go_exponent_form(to_bytes, |exponent| !(-6..21).contains(&exponent), false)
}

/// Rewrites a `ToBytes` float in Go's `'e'` form (`1.5e-10`, `1e+20`) when `use_exponent` says so for
/// its decimal exponent; `two_digits` pads the exponent to two digits as `strconv` does.
fn go_exponent_form(
    to_bytes: &[u8],
    use_exponent: impl Fn(i32) -> bool,
    two_digits: bool,
) -> String {
    // The value is a decrypted one: the working copies are wiped, the result is the caller's.
    let text = Zeroizing::new(String::from_utf8_lossy(to_bytes).into_owned());
    let unchanged = || text.as_str().to_owned();
    let Ok(value) = text.parse::<f64>() else {
        return unchanged();
    };
    if value == 0.0 || !value.is_finite() {
        return unchanged();
    }
    let scientific = Zeroizing::new(format!("{value:e}"));
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return unchanged();
    };
    let Ok(exponent) = exponent.parse::<i32>() else {
        return unchanged();
    };
    if !use_exponent(exponent) {
        return unchanged();
    }
    let sign = if exponent < 0 { '-' } else { '+' };
    let width = if two_digits || exponent >= 0 { 2 } else { 1 };
    format!("{mantissa}e{sign}{:0width$}", exponent.unsigned_abs())
}

/// go-yaml v3's timestamps (`2006-1-2T15:4:5.999999999Z07:00`, the same with `t`, `2006-1-2
/// 15:4:5.999999999` and `2006-1-2`), returned as Go's `time.RFC3339Nano` prints them: zero-padded,
/// the fraction without trailing zeros, `Z` for a zero offset.
pub(crate) fn parse_timestamp(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    if bytes.len() < 5 || !bytes[..4].iter().all(u8::is_ascii_digit) || bytes[4] != b'-' {
        return None;
    }
    let mut cursor = Cursor { bytes, at: 5 };
    let year: u32 = text[..4].parse().ok()?;
    let month = cursor.number(1, 2)?;
    cursor.expect(b'-')?;
    let day = cursor.number(1, 2)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let date = format!("{year:04}-{month:02}-{day:02}");
    if cursor.done() {
        return Some(format!("{date}T00:00:00Z"));
    }
    let separator = cursor.next()?;
    if !matches!(separator, b'T' | b't' | b' ') {
        return None;
    }
    let hour = cursor.number(1, 2)?;
    cursor.expect(b':')?;
    let minute = cursor.number(1, 2)?;
    cursor.expect(b':')?;
    let second = cursor.number(1, 2)?;
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut fraction = String::new();
    if cursor.peek() == Some(b'.') {
        cursor.at += 1;
        let start = cursor.at;
        while cursor.peek().is_some_and(|b| b.is_ascii_digit()) {
            cursor.at += 1;
        }
        let digits = &text[start..cursor.at];
        if digits.is_empty() || digits.len() > 9 {
            return None;
        }
        let significant = digits.trim_end_matches('0');
        if !significant.is_empty() {
            fraction = format!(".{significant}");
        }
    }
    let zone = if separator == b' ' {
        // The space-separated layout has no zone: the time is UTC.
        "Z".to_owned()
    } else {
        match cursor.next()? {
            b'Z' => "Z".to_owned(),
            sign @ (b'+' | b'-') => {
                let hours = cursor.number(2, 2)?;
                cursor.expect(b':')?;
                let minutes = cursor.number(2, 2)?;
                if hours > 23 || minutes > 59 {
                    return None;
                }
                if hours == 0 && minutes == 0 {
                    "Z".to_owned()
                } else {
                    format!("{}{hours:02}:{minutes:02}", sign as char)
                }
            }
            _ => return None,
        }
    };
    cursor
        .done()
        .then(|| format!("{date}T{hour:02}:{minute:02}:{second:02}{fraction}{zone}"))
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then_some(())
    }

    fn done(&self) -> bool {
        self.at == self.bytes.len()
    }

    /// Between `min` and `max` decimal digits.
    fn number(&mut self, min: usize, max: usize) -> Option<u32> {
        let start = self.at;
        while self.at - start < max && self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
        if self.at - start < min {
            return None;
        }
        std::str::from_utf8(&self.bytes[start..self.at])
            .ok()?
            .parse()
            .ok()
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(text: &str) -> Option<(Kind, String)> {
        resolve_plain(text.into())
            .map(|leaf| (leaf.kind, String::from_utf8(leaf.bytes.to_vec()).unwrap()))
    }

    #[test]
    fn plain_scalars_resolve_like_go_yaml_v3() {
        let cases: &[(&str, Option<(Kind, &str)>)] = &[
            ("yes", Some((Kind::Str, "yes"))),
            ("on", Some((Kind::Str, "on"))),
            ("0x1F", Some((Kind::Int, "31"))),
            ("0o17", Some((Kind::Int, "15"))),
            ("017", Some((Kind::Int, "15"))),
            ("08", Some((Kind::Float, "8"))),
            ("1_000", Some((Kind::Int, "1000"))),
            ("1e3", Some((Kind::Float, "1000"))),
            ("+7", Some((Kind::Int, "7"))),
            ("-12", Some((Kind::Int, "-12"))),
            (
                "9223372036854775807",
                Some((Kind::Int, "9223372036854775807")),
            ),
            (
                "-9223372036854775808",
                Some((Kind::Int, "-9223372036854775808")),
            ),
            ("3.0", Some((Kind::Float, "3"))),
            ("1.0e+20", Some((Kind::Float, "100000000000000000000"))),
            ("1.5e-10", Some((Kind::Float, "0.00000000015"))),
            ("0.000001", Some((Kind::Float, "0.000001"))),
            ("-0.0", Some((Kind::Float, "-0"))),
            (".5", Some((Kind::Float, "0.5"))),
            ("1e400", Some((Kind::Str, "1e400"))),
            (".inf", Some((Kind::Float, "+Inf"))),
            ("-.Inf", Some((Kind::Float, "-Inf"))),
            (".nan", Some((Kind::Float, "NaN"))),
            ("true", Some((Kind::Bool, "True"))),
            ("FALSE", Some((Kind::Bool, "False"))),
            ("~", None),
            ("null", None),
            ("2024-01-02", Some((Kind::Time, "2024-01-02T00:00:00Z"))),
            (
                "2024-1-2 3:04:05",
                Some((Kind::Time, "2024-01-02T03:04:05Z")),
            ),
            (
                "2024-01-02T03:04:05.123456789+02:00",
                Some((Kind::Time, "2024-01-02T03:04:05.123456789+02:00")),
            ),
            (
                "2024-01-02T03:04:05.500+02:00",
                Some((Kind::Time, "2024-01-02T03:04:05.5+02:00")),
            ),
            (
                "2024-01-02t03:04:05+00:00",
                Some((Kind::Time, "2024-01-02T03:04:05Z")),
            ),
            ("2024-02-30", Some((Kind::Str, "2024-02-30"))),
            (
                "2024-01-02 03:04:05 +02:00",
                Some((Kind::Str, "2024-01-02 03:04:05 +02:00")),
            ),
            ("1.2.3", Some((Kind::Str, "1.2.3"))),
            ("-", Some((Kind::Str, "-"))),
            ("<<", Some((Kind::Str, "<<"))),
        ];
        for (text, expected) in cases {
            let is_string = matches!(expected, Some((Kind::Str, _)));
            assert_eq!(plain_is_string(text), is_string, "{text}");
            let expected = expected.map(|(k, t)| (k, t.to_owned()));
            assert_eq!(resolved(text), expected, "{text}");
        }
    }

    #[test]
    fn floats_are_written_like_go_yaml_and_go_json() {
        let cases = [
            ("1000", "1000", "1000"),
            ("3", "3", "3"),
            ("-0", "-0.0", "-0"),
            ("0.75", "0.75", "0.75"),
            ("0.0001", "0.0001", "0.0001"),
            ("0.000001", "1e-06", "0.000001"),
            ("0.0000001", "1e-07", "1e-7"),
            ("0.00000000015", "1.5e-10", "1.5e-10"),
            ("1234567", "1.234567e+06", "1234567"),
            ("100000000000000000000", "1e+20", "100000000000000000000"),
            ("1000000000000000000000", "1e+21", "1e+21"),
            ("+Inf", ".inf", "+Inf"),
        ];
        for (to_bytes, yaml, json) in cases {
            assert_eq!(yaml_float(to_bytes.as_bytes()), yaml, "{to_bytes}");
            assert_eq!(json_float(to_bytes.as_bytes()), json, "{to_bytes}");
        }
    }

    #[test]
    fn floats_format_like_go() {
        let smallest = format!("0.{}5", "0".repeat(323));
        for (f, text) in [
            (5e-324, smallest.as_str()),
            (1.0 / 3.0, "0.3333333333333333"),
            (2.0, "2"),
            (f64::INFINITY, "+Inf"),
        ] {
            assert_eq!(format_float(f), text);
        }
    }
}
