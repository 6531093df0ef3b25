//! Property tests (issue 7): money and every parser a cashier's typing
//! reaches, fed generated input. No panics, exact minor units, overflow
//! refused, masks that keep at most the last four characters, phones that
//! normalise idempotently, PINs that never print.

use kaunta_core::money::{Currency, Money, MoneyError};
use kaunta_core::phone::{Msisdn, TillNumber};
use kaunta_core::staff::{Pin, parse_name};
use kaunta_core::voucher_code::VoucherCode;
use proptest::prelude::*;

/// JSON doubles are exact integers up to 2^53: the largest amount accepted.
const MAX_MINOR: i64 = 1 << 53;

/// A double holds 15 significant digits for sure, not 16: amounts sent or
/// read as JSON floats stay below 10^15 minor units.
const MAX_WIRE_MINOR: i64 = 1_000_000_000_000_000;

const CURRENCIES: [Currency; 6] =
    [Currency::KES, Currency::ETB, Currency::UGX, Currency::TZS, Currency::RWF, Currency::USD];

fn currency() -> impl Strategy<Value = Currency> {
    prop::sample::select(CURRENCIES.to_vec())
}

/// Amounts across the whole accepted range, small ones weighted in.
fn minor() -> impl Strategy<Value = i64> {
    prop_oneof![1i64..10_000, 1i64..100_000_000, 1i64..MAX_MINOR]
}

/// Amounts a JSON float carries, the top of the range weighted in.
fn wire_minor() -> impl Strategy<Value = i64> {
    prop_oneof![1i64..10_000, 1i64..100_000_000, 1i64..MAX_WIRE_MINOR, MAX_WIRE_MINOR - 1_000_000_000..MAX_WIRE_MINOR]
}

/// Text as people and scanners produce it, and as attackers do.
fn messy_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9 ,._+\\-]{0,40}",
        "[A-Za-z0-9 \\-]{0,80}",
        "\\PC{0,80}",
        "[\\x00-\\x1f\\x7f\u{200f}\u{202e}\u{0301}\u{fe0f}]{0,20}",
    ]
}

fn config() -> ProptestConfig {
    // No failure files written into the source tree: a failure prints its
    // minimal input, which is what goes into a regression test.
    ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn money_formats_and_parses_back_exactly(c in currency(), m in minor()) {
        let money = Money::new(m, c);
        // What the screen shows ("1,200.50") reads back as the same amount.
        prop_assert_eq!(Money::parse(&money.amount_text(), c), Ok(money));
        // The exact decimal a provider is sent reads back too.
        prop_assert_eq!(Money::parse(&money.to_wire_decimal(), c), Ok(money));
        prop_assert_eq!(Money::from_wire_decimal(&money.to_wire_decimal(), c), Ok(money));
        prop_assert!(money.to_string().starts_with(c.code()));
    }

    /// A double holds only 15 decimal digits for sure: KES
    /// 73,348,147,171,396.79 (minor 7334814717139679) would go out as the
    /// double nearest 73348147171396.79, whose shortest form is
    /// "73348147171396.8", read back as ...396.80: one cent off, silently.
    /// So wire amounts stay below 10^15 minor units, and those are exact.
    #[test]
    fn wire_floats_round_trip_to_the_minor_unit(c in currency(), m in wire_minor()) {
        let money = Money::new(m, c);
        let wire = money.to_wire_f64().unwrap();
        prop_assert_eq!(Money::from_wire_f64(wire, c), Ok(money));
    }

    /// Above the bound a float is refused both ways, never sent one unit off.
    #[test]
    fn wire_floats_refuse_16_digit_amounts(c in currency(), m in MAX_WIRE_MINOR..MAX_MINOR) {
        prop_assert_eq!(Money::new(m, c).to_wire_f64(), Err(MoneyError::TooLargeForWire));
        prop_assert_eq!(Money::new(-m, c).to_wire_f64(), Err(MoneyError::TooLargeForWire));
        let scale = 10f64.powi(c.exponent() as i32);
        prop_assert!(Money::from_wire_f64(m as f64 / scale, c).is_err());
    }

    /// Same finding, through JSON: serde_json's default float parser (no
    /// `float_roundtrip` feature) reads some 16-digit amounts back one ulp
    /// off: UGX 7407074172058505 would be sent as 7407074172058505.0 and read
    /// back as 7407074172058506. Below 10^15 minor units it is exact.
    #[test]
    fn wire_floats_round_trip_through_json_exactly(c in currency(), m in wire_minor()) {
        let wire = Money::new(m, c).to_wire_f64().unwrap();
        let back: f64 = serde_json::from_str(&serde_json::to_string(&wire).unwrap()).unwrap();
        prop_assert_eq!(Money::from_wire_f64(back, c), Ok(Money::new(m, c)));
    }

    #[test]
    fn wire_decimals_keep_zero_and_negative_balances(c in currency(), m in -MAX_MINOR + 1..MAX_MINOR) {
        let money = Money::new(m, c);
        prop_assert_eq!(Money::from_wire_decimal(&money.to_wire_decimal(), c), Ok(money));
    }

    #[test]
    fn whole_units_are_exact_or_refused(c in currency(), m in minor()) {
        let scale = 10i64.pow(c.exponent());
        match Money::new(m, c).to_wire_whole_units() {
            Ok(units) => prop_assert_eq!(units * scale, m),
            Err(e) => {
                prop_assert!(m % scale != 0);
                prop_assert_eq!(e, MoneyError::TooPrecise { currency: c, decimals: 0 });
            }
        }
    }

    #[test]
    fn amounts_beyond_the_exact_range_are_refused(c in currency(), n in (MAX_MINOR as u128)..u128::MAX) {
        // n whole units is at least 2^53 minor units in every currency.
        let e = Money::parse(&n.to_string(), c).unwrap_err();
        prop_assert_eq!(e, MoneyError::Overflow);
        prop_assert!(Money::new(MAX_MINOR, c).to_wire_f64().is_err());
    }

    #[test]
    fn typed_amounts_never_panic_and_are_positive_and_bounded(c in currency(), s in messy_text()) {
        if let Ok(m) = Money::parse(&s, c) {
            prop_assert!(m.minor > 0 && m.minor < MAX_MINOR, "{s:?} -> {m:?}");
            prop_assert_eq!(m.currency, c);
        } else {
            // The message quotes at most a short piece of the input.
            let e = Money::parse(&s, c).unwrap_err().to_string();
            prop_assert!(e.chars().count() < 120, "{e}");
        }
    }

    #[test]
    fn negative_and_zero_amounts_are_refused(c in currency(), m in 0i64..MAX_MINOR) {
        let zero_or_negative = format!("-{}", Money::new(m, c).to_wire_decimal());
        prop_assert!(Money::parse(&zero_or_negative, c).is_err());
        prop_assert!(Money::parse("0", c).is_err());
    }

    #[test]
    fn any_wire_float_is_read_exactly_or_refused(c in currency(), f in any::<f64>()) {
        if let Ok(m) = Money::from_wire_f64(f, c) {
            prop_assert!(m.minor.abs() <= MAX_MINOR, "{f} -> {m:?}");
        }
    }

    #[test]
    fn voucher_codes_never_panic_and_mask_all_but_the_last_four(s in messy_text()) {
        let Ok(code) = VoucherCode::parse(&s) else { return Ok(()) };
        let full = code.expose().to_string();
        prop_assert!(full.len() >= VoucherCode::MIN_LEN && full.len() <= VoucherCode::MAX_LEN);
        for shown in [code.to_string(), format!("{code:?}"), code.masked()] {
            let kept: String = shown.chars().filter(|c| *c != '•' && *c != '-').collect();
            let visible: String = shown.trim_start_matches("VoucherCode(").trim_end_matches(')').to_string();
            let last_four: String = full.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
            let kept_tail: String = visible.chars().filter(|c| *c != '•' && *c != '-').collect();
            prop_assert!(kept_tail.len() <= 4, "{shown} keeps more than 4 of {full}");
            prop_assert!(last_four.replace('-', "").ends_with(&kept_tail), "{shown} is not the tail of {full}");
            prop_assert!(kept.len() <= 4 + "VoucherCode()".len());
        }
    }

    #[test]
    fn voucher_codes_normalise_idempotently(s in "[A-Za-z0-9\\- ]{0,70}") {
        if let Ok(code) = VoucherCode::parse(&s) {
            prop_assert_eq!(VoucherCode::parse(code.expose()), Ok(code.clone()));
            prop_assert_eq!(VoucherCode::parse(&code.expose().to_lowercase()), Ok(code));
        }
    }

    #[test]
    fn phones_never_panic_and_normalise_idempotently(s in messy_text()) {
        if let Ok(p) = Msisdn::parse(&s) {
            prop_assert_eq!(p.as_str().len(), 12);
            prop_assert_eq!(Msisdn::parse(p.as_str()), Ok(p.clone()));
            prop_assert_eq!(Msisdn::parse(&p.with_plus()), Ok(p.clone()));
        }
        if let Ok(t) = TillNumber::parse(&s) {
            prop_assert_eq!(TillNumber::parse(t.as_str()), Ok(t));
        }
    }

    #[test]
    fn kenyan_phones_in_any_usual_form_are_one_number(
        national in "7[0-9]{8}",
        form in 0usize..4,
        sep in prop::sample::select(vec!["", " ", "-", "."]),
    ) {
        let spaced = format!("{}{sep}{}{sep}{}", &national[..3], &national[3..6], &national[6..]);
        let typed = match form {
            0 => format!("0{spaced}"),
            1 => format!("+254{sep}{spaced}"),
            2 => format!("254{spaced}"),
            _ => format!("00254 {spaced}"),
        };
        let p = Msisdn::parse(&typed).unwrap();
        prop_assert_eq!(p.as_str(), format!("254{national}"));
        prop_assert_eq!(Msisdn::parse(p.as_str()), Ok(p));
    }

    #[test]
    fn staff_names_never_panic_and_normalise_idempotently(s in messy_text()) {
        if let Ok(name) = parse_name(&s) {
            prop_assert!(!name.is_empty() && !name.chars().any(char::is_control));
            prop_assert_eq!(parse_name(&name).ok(), Some(name.clone()));
        }
    }

    #[test]
    fn pins_never_panic_and_never_print(s in prop_oneof!["[0-9]{0,14}", messy_text()]) {
        if let Ok(pin) = Pin::parse(&s) {
            let printed = format!("{pin:?} {pin:#?}");
            prop_assert!(!printed.chars().any(|c| c.is_ascii_digit()), "{printed}");
        } else {
            // The refusal never repeats what was typed. (Three characters at
            // least: the fixed text "A PIN is 4 to 12 digits" holds "12".)
            let e = Pin::parse(&s).err().unwrap().to_string();
            let digits = s.trim();
            prop_assert!(digits.chars().count() < 3 || !e.contains(digits), "{e}");
        }
    }
}
