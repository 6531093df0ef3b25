//! Exact money: integer minor units and a currency. Floats appear only at a
//! provider's wire boundary, through the conversions here.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::text;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("Enter an amount, for example 750 or 750.50")]
    Empty,
    #[error("“{0}” is not an amount: use digits and at most one decimal point")]
    NotANumber(String),
    #[error("{currency} amounts have at most {decimals} decimal places")]
    TooPrecise { currency: Currency, decimals: u32 },
    #[error("The amount must be more than zero")]
    NotPositive,
    #[error("The amount is too large")]
    Overflow,
    /// Beyond what a provider's JSON number carries to the minor unit.
    #[error("The amount is too large to send to the provider exactly")]
    TooLargeForWire,
    #[error("The provider sent an amount that is not exact in {currency}: {value}")]
    InexactWire { currency: Currency, value: String },
    #[error("Unsupported currency “{0}”")]
    UnknownCurrency(String),
}

/// Currencies of the markets we serve, with their ISO 4217 minor-unit exponent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Currency {
    KES,
    ETB,
    UGX,
    TZS,
    RWF,
    USD,
}

impl Currency {
    pub fn code(self) -> &'static str {
        match self {
            Currency::KES => "KES",
            Currency::ETB => "ETB",
            Currency::UGX => "UGX",
            Currency::TZS => "TZS",
            Currency::RWF => "RWF",
            Currency::USD => "USD",
        }
    }

    /// Decimal places of the minor unit (ISO 4217).
    pub fn exponent(self) -> u32 {
        match self {
            Currency::UGX | Currency::RWF => 0,
            _ => 2,
        }
    }

    fn scale(self) -> i64 {
        10i64.pow(self.exponent())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "KES" => Ok(Currency::KES),
            "ETB" => Ok(Currency::ETB),
            "UGX" => Ok(Currency::UGX),
            "TZS" => Ok(Currency::TZS),
            "RWF" => Ok(Currency::RWF),
            "USD" => Ok(Currency::USD),
            _ => Err(MoneyError::UnknownCurrency(text::excerpt(s.trim(), 8))),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

/// JSON doubles are exact integers only up to 2^53: the largest amount Kaunta
/// holds, typed or read from a provider's decimal text.
const MAX_EXACT_MINOR: i64 = 1 << 53;

/// The largest amount (exclusive) sent or read as a JSON float. A double holds
/// 15 significant decimal digits for sure, not 16: below 10^15 minor units
/// the decimal, the double nearest it and that double's shortest text (what
/// serde_json writes, and reads back correctly rounded) are one amount. At 16
/// digits some amounts come back one unit off, silently. No provider limit
/// comes near it (PesaVoucher's largest voucher is 15,000,000 minor units).
pub const MAX_WIRE_F64_MINOR: i64 = 1_000_000_000_000_000;

impl Money {
    pub const fn new(minor: i64, currency: Currency) -> Self {
        Money { minor, currency }
    }

    /// Parses what a person typed: "750", "750.5", "1,200.50". Rejects more
    /// decimals than the currency has instead of rounding them away.
    pub fn parse(input: &str, currency: Currency) -> Result<Self, MoneyError> {
        let s: String = input.trim().chars().filter(|c| *c != ',' && *c != '_').collect();
        if s.is_empty() {
            return Err(MoneyError::Empty);
        }
        let shown = text::excerpt(input.trim(), text::SHORT);
        if s.starts_with('-') {
            return Err(MoneyError::NotPositive);
        }
        let minor = parse_decimal(&s, currency).map_err(|e| match e {
            MoneyError::NotANumber(_) => MoneyError::NotANumber(shown),
            other => other,
        })?;
        if minor <= 0 {
            return Err(MoneyError::NotPositive);
        }
        Ok(Money { minor, currency })
    }

    /// Reads a provider's JSON number. serde_json hands us an f64; its shortest
    /// round-trip decimal form is exactly what the provider wrote for any amount
    /// of fewer than 16 significant digits, so we parse that text instead of
    /// multiplying floats. Float noise such as 0.30000000000000004 is rounded
    /// to the nearest minor unit; anything further from a minor unit is refused.
    pub fn from_wire_f64(value: f64, currency: Currency) -> Result<Self, MoneyError> {
        if !value.is_finite() {
            return Err(MoneyError::InexactWire { currency, value: value.to_string() });
        }
        let text = format!("{value}");
        let inexact = || MoneyError::InexactWire { currency, value: text::excerpt(&text, 32) };
        if let Ok(minor) = parse_decimal(&text, currency) {
            if minor.abs() >= MAX_WIRE_F64_MINOR {
                return Err(inexact());
            }
            return Ok(Money { minor, currency });
        }
        let scaled = value * currency.scale() as f64;
        let rounded = scaled.round();
        if (scaled - rounded).abs() > 1e-6 || rounded.abs() >= MAX_WIRE_F64_MINOR as f64 {
            return Err(inexact());
        }
        Ok(Money { minor: rounded as i64, currency })
    }

    /// Reads a provider's decimal exactly from its text (BitPesa's JSON
    /// numbers and strings, kept as written): "294750.0", "-12.5", "0".
    /// Zero and negative balances are amounts too; an exponent, or more
    /// decimals than the currency has, is refused rather than rounded.
    pub fn from_wire_decimal(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        let t = text.trim();
        let inexact = || MoneyError::InexactWire { currency, value: text::excerpt(t, 32) };
        if t.is_empty() || t.starts_with('+') || t.contains(['e', 'E']) {
            return Err(inexact());
        }
        let minor = parse_decimal(t, currency).map_err(|e| match e {
            MoneyError::Overflow => MoneyError::Overflow,
            _ => inexact(),
        })?;
        Ok(Money { minor, currency })
    }

    /// The exact decimal text of the amount, for providers that take one
    /// ("1500", "1200.5"): no float in between.
    pub fn to_wire_decimal(self) -> String {
        let scale = self.currency.scale();
        let sign = if self.minor < 0 { "-" } else { "" };
        let (whole, frac) = (self.minor.unsigned_abs() / scale as u64, self.minor.unsigned_abs() % scale as u64);
        if frac == 0 {
            return format!("{sign}{whole}");
        }
        let frac = format!("{frac:0width$}", width = self.currency.exponent() as usize);
        format!("{sign}{whole}.{}", frac.trim_end_matches('0'))
    }

    /// The provider's decimal number (PesaVoucher, Telesend and Pesapal take
    /// floats). Refuses amounts a double cannot carry to the minor unit.
    pub fn to_wire_f64(self) -> Result<f64, MoneyError> {
        if self.minor.unsigned_abs() >= MAX_WIRE_F64_MINOR as u64 {
            return Err(MoneyError::TooLargeForWire);
        }
        // Dividing an exact integer by a power of ten yields the double closest
        // to the decimal, which serde_json prints in its shortest exact form.
        Ok(self.minor as f64 / self.currency.scale() as f64)
    }

    /// Whole units for providers that take integers (GiftPesa); refuses cents
    /// rather than dropping them.
    pub fn to_wire_whole_units(self) -> Result<i64, MoneyError> {
        if self.minor % self.currency.scale() != 0 {
            return Err(MoneyError::TooPrecise { currency: self.currency, decimals: 0 });
        }
        Ok(self.minor / self.currency.scale())
    }

    /// "1,200.50" without the currency.
    pub fn amount_text(self) -> String {
        let scale = self.currency.scale();
        let abs = self.minor.unsigned_abs();
        let whole = abs / scale as u64;
        let frac = abs % scale as u64;
        let mut digits = whole.to_string();
        let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
        while digits.len() > 3 {
            let tail = digits.split_off(digits.len() - 3);
            grouped = format!(",{tail}{grouped}");
        }
        grouped = format!("{digits}{grouped}");
        let sign = if self.minor < 0 { "-" } else { "" };
        if self.currency.exponent() == 0 {
            format!("{sign}{grouped}")
        } else {
            format!("{sign}{grouped}.{frac:0width$}", width = self.currency.exponent() as usize)
        }
    }
}

impl fmt::Display for Money {
    /// "KES 1,200.50"
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.currency, self.amount_text())
    }
}

fn parse_decimal(s: &str, currency: Currency) -> Result<i64, MoneyError> {
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s, ""),
    };
    let digits_only = |p: &str| p.chars().all(|c| c.is_ascii_digit());
    if (whole.is_empty() && frac.is_empty()) || !digits_only(whole) || !digits_only(frac) {
        return Err(MoneyError::NotANumber(s.to_string()));
    }
    let exp = currency.exponent() as usize;
    let frac = frac.trim_end_matches('0');
    if frac.len() > exp {
        return Err(MoneyError::TooPrecise { currency, decimals: currency.exponent() });
    }
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| MoneyError::Overflow)? };
    let frac_minor: i64 =
        if frac.is_empty() { 0 } else { format!("{frac:0<exp$}").parse().map_err(|_| MoneyError::Overflow)? };
    let minor = whole
        .checked_mul(currency.scale())
        .and_then(|m| m.checked_add(frac_minor))
        .filter(|m| *m < MAX_EXACT_MINOR)
        .ok_or(MoneyError::Overflow)?;
    Ok(if negative { -minor } else { minor })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kes(minor: i64) -> Money {
        Money::new(minor, Currency::KES)
    }

    #[test]
    fn typed_amounts_parse_exactly() {
        assert_eq!(Money::parse("750", Currency::KES), Ok(kes(75_000)));
        assert_eq!(Money::parse(" 1,200.5 ", Currency::KES), Ok(kes(120_050)));
        assert_eq!(Money::parse("0.01", Currency::KES), Ok(kes(1)));
        assert_eq!(Money::parse(".5", Currency::KES), Ok(kes(50)));
        assert_eq!(Money::parse("12.300", Currency::KES), Ok(kes(1_230)));
        assert_eq!(Money::parse("5000", Currency::UGX), Ok(Money::new(5_000, Currency::UGX)));
    }

    #[test]
    fn typed_amounts_with_too_many_decimals_are_refused_not_rounded() {
        assert!(matches!(Money::parse("12.345", Currency::KES), Err(MoneyError::TooPrecise { .. })));
        assert!(matches!(Money::parse("10.5", Currency::UGX), Err(MoneyError::TooPrecise { .. })));
    }

    #[test]
    fn bad_typed_amounts_are_refused() {
        assert_eq!(Money::parse("", Currency::KES), Err(MoneyError::Empty));
        assert_eq!(Money::parse("0", Currency::KES), Err(MoneyError::NotPositive));
        assert_eq!(Money::parse("-5", Currency::KES), Err(MoneyError::NotPositive));
        assert!(matches!(Money::parse("1e3", Currency::KES), Err(MoneyError::NotANumber(_))));
        assert!(matches!(Money::parse("12.3.4", Currency::KES), Err(MoneyError::NotANumber(_))));
        assert!(matches!(Money::parse("١٢٣", Currency::KES), Err(MoneyError::NotANumber(_))));
        assert_eq!(Money::parse("99999999999999999999", Currency::KES), Err(MoneyError::Overflow));
        assert_eq!(Money::parse("90071992547409.93", Currency::KES), Err(MoneyError::Overflow));
    }

    #[test]
    fn wire_floats_round_trip_exactly() {
        for minor in [1, 5, 10, 99, 5_000, 75_000, 120_050, 15_000_000, 12_345_678_901] {
            let wire = kes(minor).to_wire_f64().unwrap();
            assert_eq!(Money::from_wire_f64(wire, Currency::KES), Ok(kes(minor)), "{minor}");
        }
        assert_eq!(serde_json::to_string(&kes(75_000).to_wire_f64().unwrap()).unwrap(), "750.0");
        assert_eq!(serde_json::to_string(&kes(120_050).to_wire_f64().unwrap()).unwrap(), "1200.5");
        assert_eq!(serde_json::to_string(&kes(1).to_wire_f64().unwrap()).unwrap(), "0.01");
    }

    #[test]
    fn wire_float_noise_rounds_to_the_nearest_minor_unit() {
        assert_eq!(Money::from_wire_f64(0.1 + 0.2, Currency::KES), Ok(kes(30)));
        assert_eq!(Money::from_wire_f64(1.005 * 1000.0, Currency::KES), Ok(kes(100_500)));
    }

    #[test]
    fn wire_amounts_finer_than_a_minor_unit_are_refused() {
        assert!(matches!(Money::from_wire_f64(10.005, Currency::KES), Err(MoneyError::InexactWire { .. })));
        assert!(matches!(Money::from_wire_f64(f64::NAN, Currency::KES), Err(MoneyError::InexactWire { .. })));
        assert!(matches!(Money::from_wire_f64(1e300, Currency::KES), Err(MoneyError::InexactWire { .. })));
    }

    #[test]
    fn wire_floats_carry_fewer_than_16_digits() {
        // 16 digits: the double nearest 73348147171396.79 prints as
        // 73348147171396.8, one cent off; such amounts are refused both ways.
        let largest = kes(MAX_WIRE_F64_MINOR - 1);
        let wire = largest.to_wire_f64().unwrap();
        assert_eq!(Money::from_wire_f64(wire, Currency::KES), Ok(largest));
        assert_eq!(kes(7_334_814_717_139_679).to_wire_f64(), Err(MoneyError::TooLargeForWire));
        assert_eq!(kes(-MAX_WIRE_F64_MINOR).to_wire_f64(), Err(MoneyError::TooLargeForWire));
        assert_eq!(kes(i64::MIN).to_wire_f64(), Err(MoneyError::TooLargeForWire));
        assert!(matches!(
            Money::from_wire_f64(73_348_147_171_396.8, Currency::KES),
            Err(MoneyError::InexactWire { .. })
        ));
        assert!(matches!(Money::from_wire_f64(1e13, Currency::KES), Err(MoneyError::InexactWire { .. })));
        assert_eq!(Money::from_wire_f64(1e13, Currency::UGX), Ok(Money::new(10_000_000_000_000, Currency::UGX)));
    }

    #[test]
    fn wire_decimals_are_read_and_written_exactly() {
        assert_eq!(Money::from_wire_decimal("294750.0", Currency::KES), Ok(kes(29_475_000)));
        assert_eq!(Money::from_wire_decimal(" 1000.00", Currency::KES), Ok(kes(100_000)));
        assert_eq!(Money::from_wire_decimal("0", Currency::KES), Ok(kes(0)));
        assert_eq!(Money::from_wire_decimal("-12.5", Currency::KES), Ok(kes(-1_250)));
        assert_eq!(Money::from_wire_decimal("90071992547409.91", Currency::KES), Ok(kes(9_007_199_254_740_991)));
        assert_eq!(Money::from_wire_decimal("1500000", Currency::UGX), Ok(Money::new(1_500_000, Currency::UGX)));
        for bad in ["", "1e3", "10.005", "abc", "+5", "1,000", "NaN"] {
            assert!(
                matches!(Money::from_wire_decimal(bad, Currency::KES), Err(MoneyError::InexactWire { .. })),
                "{bad}"
            );
        }
        assert!(matches!(Money::from_wire_decimal("0.5", Currency::UGX), Err(MoneyError::InexactWire { .. })));
        assert_eq!(kes(150_000).to_wire_decimal(), "1500");
        assert_eq!(kes(120_050).to_wire_decimal(), "1200.5");
        assert_eq!(kes(1).to_wire_decimal(), "0.01");
        assert_eq!(kes(-1_250).to_wire_decimal(), "-12.5");
        assert_eq!(Money::new(5_000, Currency::UGX).to_wire_decimal(), "5000");
        for minor in [0, 1, 99, 100, 12_345, 9_007_199_254_740_991] {
            assert_eq!(Money::from_wire_decimal(&kes(minor).to_wire_decimal(), Currency::KES), Ok(kes(minor)));
        }
    }

    #[test]
    fn whole_units_refuse_cents() {
        assert_eq!(kes(75_000).to_wire_whole_units(), Ok(750));
        assert!(kes(75_050).to_wire_whole_units().is_err());
    }

    #[test]
    fn display_groups_thousands() {
        assert_eq!(kes(75_000).to_string(), "KES 750.00");
        assert_eq!(kes(123_456_789).to_string(), "KES 1,234,567.89");
        assert_eq!(kes(5).to_string(), "KES 0.05");
        assert_eq!(kes(-120_050).to_string(), "KES -1,200.50");
        assert_eq!(Money::new(1_500_000, Currency::UGX).to_string(), "UGX 1,500,000");
    }
}
