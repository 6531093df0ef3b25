//! Mobile-money identifiers a cashier types: the customer's phone number
//! (`Msisdn`) and the store's M-Pesa till number (`TillNumber`). Both are
//! parsed once, before any request, and carried as types afterwards.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::text;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("Enter the customer's phone number, for example 0712 345 678")]
    Empty,
    #[error(
        "“{0}” is not a Kenyan or Ethiopian mobile number: use 07XXXXXXXX, 01XXXXXXXX, +2547XXXXXXXX \
         or 09XXXXXXXX, +2519XXXXXXXX"
    )]
    NotMobile(String),
    #[error("Enter the till number: its digits only, for example 123456")]
    EmptyTill,
    #[error("“{0}” is not an M-Pesa till number: use its {min} to {max} digits", min = TillNumber::MIN_DIGITS, max = TillNumber::MAX_DIGITS)]
    NotTill(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Country {
    Kenya,
    Ethiopia,
}

/// A mobile number in international form without '+', e.g. `254712345678`.
///
/// Accepted, with any spaces, dashes, dots or brackets a person types:
/// - Kenya (country code 254, national number of 9 digits): `07XXXXXXXX`,
///   `01XXXXXXXX`, `+2547…`, `2547…`, `+2541…`, `2541…` (the 01 range is
///   010x and 011x, the only mobile blocks allocated there).
/// - Ethiopia (251, 9 digits): `09XXXXXXXX`, `+2519…`, `2519…`, and Safaricom
///   Ethiopia `+2517…` / `2517…`. A local `07…` is read as Kenyan, the till's
///   country: Safaricom Ethiopia numbers need their +251.
/// - `00` in place of `+`.
///
/// Anything else (landlines, other countries, a 9-digit number with no
/// prefix, which could be either country) is refused with a clear message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Msisdn(String);

impl Msisdn {
    pub fn parse(input: &str) -> Result<Msisdn, PhoneError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::Empty);
        }
        let refuse = || PhoneError::NotMobile(text::excerpt(trimmed, text::SHORT));
        let compact: String = trimmed.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).collect();
        let (international, digits) = if let Some(rest) = compact.strip_prefix('+') {
            (true, rest)
        } else if let Some(rest) = compact.strip_prefix("00") {
            (true, rest)
        } else {
            (false, compact.as_str())
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(refuse());
        }
        let full = match (international, digits.len()) {
            (_, 12) if digits.starts_with("254") || digits.starts_with("251") => digits.to_string(),
            (false, 10) if digits.starts_with("07") || digits.starts_with("01") => format!("254{}", &digits[1..]),
            (false, 10) if digits.starts_with("09") => format!("251{}", &digits[1..]),
            _ => return Err(refuse()),
        };
        let national = &full[3..];
        let mobile = match &full[..3] {
            "254" => national.starts_with('7') || national.starts_with("10") || national.starts_with("11"),
            "251" => national.starts_with('9') || national.starts_with('7'),
            _ => false,
        };
        if !mobile {
            return Err(refuse());
        }
        Ok(Msisdn(full))
    }

    /// `254712345678`
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `+254712345678`, the form GiftPesa's redeem example uses.
    pub fn with_plus(&self) -> String {
        format!("+{}", self.0)
    }

    pub fn country(&self) -> Country {
        if self.0.starts_with("254") { Country::Kenya } else { Country::Ethiopia }
    }
}

impl fmt::Display for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Msisdn {
    type Err = PhoneError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Msisdn::parse(s)
    }
}

impl TryFrom<String> for Msisdn {
    type Error = PhoneError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Msisdn::parse(&s)
    }
}

impl From<Msisdn> for String {
    fn from(m: Msisdn) -> String {
        m.0
    }
}

/// An M-Pesa till (Buy Goods) number: digits only.
///
/// The GiftPesa document gives one example (`"TillNo": "123456"`, a string)
/// and no length. Safaricom's till numbers are issued with 5 to 7 digits
/// (most are 6 or 7); 8 is allowed for headroom. Spaces a person types
/// between groups are dropped; leading zeros are kept, since the number is an
/// identifier, not a quantity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TillNumber(String);

impl TillNumber {
    pub const MIN_DIGITS: usize = 5;
    pub const MAX_DIGITS: usize = 8;

    pub fn parse(input: &str) -> Result<TillNumber, PhoneError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::EmptyTill);
        }
        let digits: String = trimmed.chars().filter(|c| *c != ' ').collect();
        if !digits.bytes().all(|b| b.is_ascii_digit()) || !(Self::MIN_DIGITS..=Self::MAX_DIGITS).contains(&digits.len())
        {
            return Err(PhoneError::NotTill(text::excerpt(trimmed, text::SHORT)));
        }
        Ok(TillNumber(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TillNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for TillNumber {
    type Err = PhoneError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TillNumber::parse(s)
    }
}

impl TryFrom<String> for TillNumber {
    type Error = PhoneError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        TillNumber::parse(&s)
    }
}

impl From<TillNumber> for String {
    fn from(t: TillNumber) -> String {
        t.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str) -> String {
        Msisdn::parse(input).unwrap_or_else(|e| panic!("{input}: {e}")).to_string()
    }

    #[test]
    fn kenyan_numbers_in_every_usual_form_become_254() {
        for input in
            ["0712345678", "+254712345678", "254712345678", "0712 345 678", "+254 712-345-678", "00254712345678"]
        {
            assert_eq!(ok(input), "254712345678", "{input}");
        }
        assert_eq!(ok("0110123456"), "254110123456");
        assert_eq!(ok("+254100123456"), "254100123456");
        assert_eq!(ok("2541 10 123 456"), "254110123456");
        assert_eq!(Msisdn::parse("0712345678").unwrap().country(), Country::Kenya);
    }

    #[test]
    fn ethiopian_numbers_become_251() {
        assert_eq!(ok("0911234567"), "251911234567");
        assert_eq!(ok("+251911234567"), "251911234567");
        assert_eq!(ok("251 91 123 4567"), "251911234567");
        // Safaricom Ethiopia, only with its country code.
        assert_eq!(ok("+251711234567"), "251711234567");
        assert_eq!(Msisdn::parse("0911234567").unwrap().country(), Country::Ethiopia);
    }

    #[test]
    fn a_local_07_number_is_kenyan() {
        assert_eq!(ok("0711234567"), "254711234567");
    }

    #[test]
    fn anything_else_is_refused_with_the_forms_to_use() {
        for bad in [
            "712345678",     // no prefix: Kenya or Ethiopia?
            "071234567",     // one digit short
            "07123456789",   // one digit long
            "+25471234567",  // short international
            "0201234567",    // Nairobi landline
            "0121234567",    // Kenyan 012 is not a mobile block
            "+254812345678", // 8 is not a Kenyan mobile prefix
            "+251111234567", // Addis Ababa landline
            "+256712345678", // Uganda
            "+1 202 555 0100",
            "07I2345678", // a letter I
            "++254712345678",
            "0712345678 ext 2",
        ] {
            match Msisdn::parse(bad) {
                Err(e @ PhoneError::NotMobile(_)) => assert!(e.to_string().contains("07XXXXXXXX"), "{bad}: {e}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert_eq!(Msisdn::parse("  "), Err(PhoneError::Empty));
    }

    #[test]
    fn the_plus_form_and_serde_agree_with_display() {
        let m = Msisdn::parse("0720 123 456").unwrap();
        assert_eq!(m.with_plus(), "+254720123456");
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"254720123456\"");
        let back: Msisdn = serde_json::from_str("\"+254720123456\"").unwrap();
        assert_eq!(back, m);
        assert!(serde_json::from_str::<Msisdn>("\"12345\"").is_err());
    }

    #[test]
    fn till_numbers_are_five_to_eight_digits() {
        assert_eq!(TillNumber::parse("123456").unwrap().as_str(), "123456");
        assert_eq!(TillNumber::parse(" 12345 ").unwrap().as_str(), "12345");
        assert_eq!(TillNumber::parse("123 4567").unwrap().as_str(), "1234567");
        assert_eq!(TillNumber::parse("01234567").unwrap().as_str(), "01234567");
        for bad in ["1234", "123456789", "12a456", "-12345", "12.345", "１２３４５６"] {
            assert!(matches!(TillNumber::parse(bad), Err(PhoneError::NotTill(_))), "{bad}");
        }
        assert_eq!(TillNumber::parse(""), Err(PhoneError::EmptyTill));
    }
}
