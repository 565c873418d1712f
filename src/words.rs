//! Enums written as words (`yaml`, `secret-service`, `warn`): one table per enum gives its
//! `as_str`, its `Display` and, where the word is read back, its `FromStr`, whose error lists the
//! words expected.

use std::fmt;

/// A word that names none of an enum's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownWord {
    what: &'static str,
    word: String,
    expected: &'static [&'static str],
}

impl UnknownWord {
    /// `word` is not one of `expected`, the words for a `what` (`format`, `keyring backend`).
    pub(crate) fn new(what: &'static str, word: &str, expected: &'static [&'static str]) -> Self {
        Self {
            what,
            word: word.to_owned(),
            expected,
        }
    }
}

impl fmt::Display for UnknownWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} `{}`; expected ", self.what, self.word)?;
        for (i, word) in self.expected.iter().enumerate() {
            let separator = match i {
                0 => "",
                i if i + 1 == self.expected.len() => " or ",
                _ => ", ",
            };
            write!(f, "{separator}`{word}`")?;
        }
        Ok(())
    }
}

impl std::error::Error for UnknownWord {}

/// `words!(Type { Variant => "word", ... })` gives `Type::as_str` and `Display`;
/// `words!(Type, "what" { ... })` also gives `FromStr` with [`UnknownWord`] naming a `what`.
/// Extra `as_str` arms for variants with data end the table, after a `;`.
macro_rules! words {
    ($type:ident { $($variant:ident => $word:literal),+ $(; $($pattern:pat => $value:expr),+)? $(,)? }) => {
        impl $type {
            /// The word for this value, as written in config files, on the command line and in
            /// JSON.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $word,)+
                    $($($pattern => $value,)+)?
                }
            }
        }

        impl ::std::fmt::Display for $type {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
    ($type:ident, $what:literal { $($variant:ident => $word:literal),+ $(,)? }) => {
        $crate::words::words!($type { $($variant => $word),+ });

        impl ::std::str::FromStr for $type {
            type Err = $crate::words::UnknownWord;

            fn from_str(word: &str) -> Result<Self, Self::Err> {
                match word {
                    $($word => Ok(Self::$variant),)+
                    other => Err($crate::words::UnknownWord::new($what, other, &[$($word),+])),
                }
            }
        }
    };
}

pub(crate) use words;

#[cfg(test)]
mod tests {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Light {
        Red,
        Green,
        Blue,
    }

    words!(Light, "light" { Red => "red", Green => "green", Blue => "blue" });

    #[test]
    fn one_table_gives_words_both_ways_and_lists_them_when_unknown() {
        assert_eq!(Light::Green.as_str(), "green");
        assert_eq!(Light::Blue.to_string(), "blue");
        assert_eq!("red".parse::<Light>(), Ok(Light::Red));
        let error = "mauve".parse::<Light>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown light `mauve`; expected `red`, `green` or `blue`"
        );
    }
}
