//! Personal-data types.
//!
//! Every personal value the kiosk handles (a citizen's name, ID number,
//! address, phone) travels in one of these types. Their `Debug` and `Display`
//! show only a masked form, so a value that slips into a log line or an error
//! message leaks nothing; the clear value is reachable only through an explicit
//! `expose()` call, which is easy to audit. All of them zeroize on drop.

use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Why an ID number was not accepted as a valid GB 11643 number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    /// The number does not have 18 characters.
    #[error("an ID number has 18 characters, this one has {0}")]
    Length(usize),
    /// One of the first 17 characters is not a digit, or the last is not a digit or X.
    #[error("an ID number is 17 digits and a check character (digit or X)")]
    Charset,
    /// The check character does not match the ISO 7064 MOD 11-2 checksum.
    #[error("the ID number's check character is wrong (expected {expected})")]
    CheckDigit {
        /// The check character the first 17 digits call for.
        expected: char,
    },
}

/// Weights of GB 11643 (ISO 7064 MOD 11-2) over the first 17 digits.
const GB11643_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// The GB 11643 check character for the first 17 digits of an ID number.
///
/// `digits` must be 17 ASCII digits; anything else gives `None`.
pub fn gb11643_check_char(digits: &str) -> Option<char> {
    if digits.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (c, w) in digits.chars().zip(GB11643_WEIGHTS) {
        sum += c.to_digit(10)? * w;
    }
    let check = (12 - sum % 11) % 11;
    Some(if check == 10 {
        'X'
    } else {
        char::from_digit(check, 10)?
    })
}

/// Masks all but the first `keep_head` and last `keep_tail` characters with `*`.
pub fn mask_middle(s: &str, keep_head: usize, keep_tail: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= keep_head + keep_tail {
        return "*".repeat(chars.len());
    }
    let mut out = String::with_capacity(s.len());
    out.extend(&chars[..keep_head]);
    out.extend(std::iter::repeat_n(
        '*',
        chars.len() - keep_head - keep_tail,
    ));
    out.extend(&chars[chars.len() - keep_tail..]);
    out
}

/// A resident identity number (GB 11643, 18 characters), or another card's
/// number that the reader returned. The clear value is never printed by
/// `Debug`/`Display`: they show `3301**********0022`.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdNumber(String);

impl IdNumber {
    /// Parses and validates an 18-character GB 11643 number (lower-case `x`
    /// is accepted and stored upper-case).
    pub fn parse(s: &str) -> Result<Self, IdNumberError> {
        let s = s.trim().to_ascii_uppercase();
        let n = s.chars().count();
        if n != 18 {
            return Err(IdNumberError::Length(n));
        }
        let (body, check) = s.split_at(17);
        if !body.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdNumberError::Charset);
        }
        let check = check.chars().next().ok_or(IdNumberError::Length(n))?;
        if !(check.is_ascii_digit() || check == 'X') {
            return Err(IdNumberError::Charset);
        }
        let expected = gb11643_check_char(body).ok_or(IdNumberError::Charset)?;
        if expected != check {
            return Err(IdNumberError::CheckDigit { expected });
        }
        Ok(Self(s))
    }

    /// Wraps a number without validating it (a card whose number fails the
    /// check is still reported, flagged as untrusted, never silently dropped).
    pub fn unchecked(s: &str) -> Self {
        Self(s.trim().to_ascii_uppercase())
    }

    /// Whether the number passes the GB 11643 check.
    pub fn is_valid(&self) -> bool {
        Self::parse(&self.0).is_ok()
    }

    /// The clear number. Call sites are the audit surface for personal data.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The masked form shown on screens and receipts: first 4 and last 4 kept.
    pub fn masked(&self) -> String {
        mask_middle(&self.0, 4, 4)
    }

    /// Birth date `YYYYMMDD` encoded in an 18-digit number, if it has one.
    pub fn birth_date(&self) -> Option<&str> {
        let b = self.0.get(6..14)?;
        b.bytes().all(|c| c.is_ascii_digit()).then_some(b)
    }
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// A piece of personal text: a name, an address, a phone number. Shown
/// masked; zeroized on drop.
#[derive(Clone, PartialEq, Eq, Default, Zeroize, ZeroizeOnDrop, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Personal(String);

impl Personal {
    /// Wraps a personal value.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The clear value. Call sites are the audit surface for personal data.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A name masked for a receipt: the first character kept (`张**`).
    pub fn masked_name(&self) -> String {
        mask_middle(&self.0, 1, 0)
    }

    /// A phone number masked as `138****5678`.
    pub fn masked_phone(&self) -> String {
        mask_middle(&self.0, 3, 4)
    }
}

impl fmt::Debug for Personal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Personal(<{} chars>)", self.0.chars().count())
    }
}

impl fmt::Display for Personal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&mask_middle(&self.0, 1, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_valid_numbers_pass() {
        for n in [
            "11010519491231002X",
            "440524188001010014",
            "810000199408230021",
        ] {
            assert!(IdNumber::parse(n).is_ok(), "{n}");
        }
        assert!(IdNumber::parse("11010519491231002x").is_ok());
    }

    #[test]
    fn wrong_check_digit_is_reported_with_the_expected_one() {
        assert_eq!(
            IdNumber::parse("110105194912310021"),
            Err(IdNumberError::CheckDigit { expected: 'X' })
        );
        assert_eq!(
            IdNumber::parse("1101051949"),
            Err(IdNumberError::Length(10))
        );
        assert_eq!(
            IdNumber::parse("1101051949123100AX"),
            Err(IdNumberError::Charset)
        );
    }

    #[test]
    fn debug_and_display_never_show_the_clear_number() {
        let n = IdNumber::parse("330106199001010022")
            .unwrap_or_else(|_| IdNumber::unchecked("330106199001010022"));
        assert_eq!(n.masked(), "3301**********0022");
        assert_eq!(format!("{n}"), "3301**********0022");
        assert!(!format!("{n:?}").contains("19900101"));
        let name = Personal::new("张三丰");
        assert_eq!(name.masked_name(), "张**");
        assert!(!format!("{name:?}").contains('三'));
        assert_eq!(Personal::new("13812345678").masked_phone(), "138****5678");
    }

    #[test]
    fn birth_date_is_read_from_the_number() {
        let n = IdNumber::unchecked("11010519491231002X");
        assert_eq!(n.birth_date(), Some("19491231"));
    }
}
