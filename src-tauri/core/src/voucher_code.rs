//! A voucher code as the cashier scanned or typed it, normalised once.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VoucherCodeError {
    #[error("Scan or type a voucher code")]
    Empty,
    #[error("A voucher code has at most {max} characters")]
    TooLong { max: usize },
    #[error("A voucher code is at least {min} characters long")]
    TooShort { min: usize },
    #[error("A voucher code has only letters, digits and dashes")]
    BadCharacter,
}

/// Normalised: surrounding whitespace and inner spaces dropped (scanners and
/// copy-paste add them), upper case. `Display` masks all but the last four
/// characters, so a code can be logged or printed without being spent by a reader.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct VoucherCode(String);

impl VoucherCode {
    pub const MIN_LEN: usize = 4;
    pub const MAX_LEN: usize = 64;

    pub fn parse(input: &str) -> Result<Self, VoucherCodeError> {
        // Bound the work before looking at the characters: a 1 MB paste is refused cheaply.
        if input.len() > Self::MAX_LEN * 4 {
            return Err(VoucherCodeError::TooLong { max: Self::MAX_LEN });
        }
        let code: String = input.chars().filter(|c| !c.is_whitespace()).map(|c| c.to_ascii_uppercase()).collect();
        if code.is_empty() {
            return Err(VoucherCodeError::Empty);
        }
        if !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(VoucherCodeError::BadCharacter);
        }
        if code.len() > Self::MAX_LEN {
            return Err(VoucherCodeError::TooLong { max: Self::MAX_LEN });
        }
        if code.len() < Self::MIN_LEN {
            return Err(VoucherCodeError::TooShort { min: Self::MIN_LEN });
        }
        Ok(VoucherCode(code))
    }

    /// The full code, for the provider and the ledger's in-flight guard only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn masked(&self) -> String {
        mask(&self.0)
    }
}

/// All but the last four characters become `•`; dashes stay so the shape is recognisable.
pub fn mask(code: &str) -> String {
    let n = code.chars().count();
    code.chars().enumerate().map(|(i, c)| if i + 4 >= n || c == '-' { c } else { '•' }).collect()
}

impl fmt::Display for VoucherCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl fmt::Debug for VoucherCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VoucherCode({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanned_codes_are_normalised() {
        let c = VoucherCode::parse("  nlv-dtumjq6ilg9wnise\r\n").unwrap();
        assert_eq!(c.expose(), "NLV-DTUMJQ6ILG9WNISE");
        assert_eq!(VoucherCode::parse("NLV DTUM").unwrap().expose(), "NLVDTUM");
    }

    #[test]
    fn display_and_debug_mask_all_but_the_last_four() {
        let c = VoucherCode::parse("NLV-DTUMJQ6ILG9WNISE").unwrap();
        assert_eq!(c.to_string(), "•••-••••••••••••NISE");
        assert!(!format!("{c:?}").contains("DTUM"));
        assert_eq!(mask("AB"), "AB");
    }

    #[test]
    fn bad_codes_are_refused_with_a_reason() {
        assert_eq!(VoucherCode::parse(" \t"), Err(VoucherCodeError::Empty));
        assert_eq!(VoucherCode::parse("AB1"), Err(VoucherCodeError::TooShort { min: 4 }));
        assert_eq!(VoucherCode::parse("<script>"), Err(VoucherCodeError::BadCharacter));
        assert_eq!(VoucherCode::parse("NLV'; DROP TABLE x;--"), Err(VoucherCodeError::BadCharacter));
        assert_eq!(VoucherCode::parse("NLV-ÄBCD"), Err(VoucherCodeError::BadCharacter));
        assert_eq!(VoucherCode::parse("NLV\u{0}ABCD"), Err(VoucherCodeError::BadCharacter));
        assert_eq!(VoucherCode::parse(&"A".repeat(65)), Err(VoucherCodeError::TooLong { max: 64 }));
        assert_eq!(VoucherCode::parse(&"A".repeat(1 << 20)), Err(VoucherCodeError::TooLong { max: 64 }));
    }
}
