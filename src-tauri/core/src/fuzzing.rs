//! Entry points for the fuzz targets (fuzz/) and their replay test
//! (tests/fuzz_replay.rs): each feeds bytes to exactly the code a provider
//! client runs on an answer, then checks what a cashier would be shown.
//! Not an API: the layout of the input bytes may change with the targets.
//!
//! Input layout for a provider answer: byte 0 picks the endpoint, bytes 1–2
//! are the HTTP status (big-endian; outside 100–999 it is folded into that
//! range, as no client ever sees another), the rest is the body.

use crate::FlowError;
use crate::money::{Currency, Money};
use crate::providers::{bitpesa, giftpesa, pesapal, pesavoucher, telesend};

/// Longest message a cashier is shown (a sentence or three); the tests'
/// `assert_plain` holds every message to it too.
pub const MAX_MESSAGE: usize = 400;

/// Pieces of text that must never reach a cashier's message: raw markup or
/// JSON, transport internals, paths and debug dumps. The tests' `assert_plain`
/// forbids them outright; a fuzz target allows them only where the provider
/// wrote them in a JSON string (its own words, quoted).
pub const NOT_PLAIN: &[&str] = &[
    "{",
    "}",
    "<",
    ">",
    "reqwest",
    "hyper",
    "serde",
    "IncompleteMessage",
    "Error(",
    "Some(",
    "kind:",
    "line 1 column",
    "EOF while parsing",
    "http://",
    "https://",
    "127.0.0.1",
    "panicked",
    "backtrace",
    ".rs:",
    "\\u",
];

/// What a parsed answer holds that the checks look at.
#[derive(Debug, Default)]
pub struct Seen {
    /// Every amount in an accepted answer.
    pub amounts: Vec<Money>,
    /// Every message a cashier or manager would read: the error's, or the
    /// plain words of the reasons in an accepted answer.
    pub messages: Vec<String>,
}

impl Seen {
    /// The cashier's message for an error, as the flows build it.
    pub fn error(e: impl Into<FlowError>) -> Seen {
        Seen { amounts: Vec::new(), messages: vec![e.into().to_string()] }
    }
}

/// Runs `parse` on one input split as documented above.
fn split(data: &[u8]) -> Option<(u8, u16, &[u8])> {
    let (&[endpoint, hi, lo], body) = data.split_first_chunk::<3>()?;
    let raw = u16::from_be_bytes([hi, lo]);
    let status = if (100..=999).contains(&raw) { raw } else { 100 + raw % 900 };
    Some((endpoint, status, body))
}

/// An input for `provider_answer`-style targets, from its parts (seeds).
pub fn encode(endpoint: u8, status: u16, body: &[u8]) -> Vec<u8> {
    let mut out = vec![endpoint];
    out.extend_from_slice(&status.to_be_bytes());
    out.extend_from_slice(body);
    out
}

pub fn pesavoucher(data: &[u8]) {
    if let Some((endpoint, status, body)) = split(data) {
        check(body, pesavoucher::fuzzing::response(endpoint, status, body));
    }
}

pub fn telesend(data: &[u8]) {
    if let Some((endpoint, status, body)) = split(data) {
        check(body, telesend::fuzzing::response(endpoint, status, body));
    }
}

pub fn giftpesa(data: &[u8]) {
    if let Some((endpoint, status, body)) = split(data) {
        check(body, giftpesa::fuzzing::response(endpoint, status, body));
    }
}

pub fn pesapal(data: &[u8]) {
    if let Some((endpoint, status, body)) = split(data) {
        check(body, pesapal::fuzzing::response(endpoint, status, body));
    }
}

pub fn bitpesa(data: &[u8]) {
    if let Some((endpoint, status, body)) = split(data) {
        check(body, bitpesa::fuzzing::response(endpoint, status, body));
    }
}

/// BitPesa's webhook: byte 0 says whether the body is signed with the
/// till's key (even) or carries a signature taken from the input (odd: the
/// next 128 bytes, as text), the rest is the body.
pub fn bitpesa_webhook(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let (forged, body) = if mode % 2 == 1 && rest.len() >= 128 {
        (Some(String::from_utf8_lossy(&rest[..128]).into_owned()), &rest[128..])
    } else {
        (None, rest)
    };
    let (genuine, seen) = bitpesa::fuzzing::webhook(forged.as_deref(), body);
    if forged.is_some() && !genuine {
        assert!(
            seen.messages.iter().any(|m| m.contains("signature does not match")),
            "a webhook with a forged signature was accepted: {seen:?}"
        );
    }
    check(body, seen);
}

/// Exact amounts from a provider's text and numbers: byte 0 picks the
/// currency, the rest is the text (a BitPesa decimal, a JSON number).
pub fn money(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else { return };
    let currencies = [Currency::KES, Currency::ETB, Currency::UGX, Currency::TZS, Currency::RWF, Currency::USD];
    let currency = currencies[usize::from(pick) % currencies.len()];
    let text = String::from_utf8_lossy(rest);
    let mut seen = Seen::default();
    match bitpesa::fuzzing::decimal(&text, currency) {
        Ok(m) => seen.amounts.push(m),
        Err(e) => seen.messages.push(e.to_string()),
    }
    if let Ok(value) = text.trim().parse::<f64>() {
        match Money::from_wire_f64(value, currency) {
            Ok(m) => {
                // A JSON number is read as the decimal it prints as: the
                // amount sent back out is that same number.
                let back = m.to_wire_f64().expect("a wire amount goes back on the wire");
                assert_eq!(Money::from_wire_f64(back, currency), Ok(m), "{value} read as {m}");
                seen.amounts.push(m);
            }
            Err(e) => seen.messages.push(e.to_string()),
        }
    }
    // The whole text is the provider's: an amount may be quoted back.
    check_quoting(&[text.into_owned()], seen);
}

/// The invariants every target holds its parser to, for an answer with
/// this body.
fn check(body: &[u8], seen: Seen) {
    check_quoting(&provider_strings(body), seen)
}

/// The invariants, where `quoted` holds what the provider wrote as words.
fn check_quoting(quoted: &[String], seen: Seen) {
    for m in &seen.amounts {
        // Exact: the decimal text round-trips to the same amount.
        assert_eq!(Money::from_wire_decimal(&m.to_wire_decimal(), m.currency), Ok(*m), "amount {m:?}");
    }
    for message in &seen.messages {
        assert!(!message.trim().is_empty(), "empty message");
        assert!(message.chars().count() <= MAX_MESSAGE, "message of {} chars: {message}", message.chars().count());
        assert!(!message.chars().any(char::is_control), "control characters in {message:?}");
        for bad in NOT_PLAIN {
            assert!(
                !message.contains(bad) || quoted.iter().any(|s| s.contains(bad)),
                "message carries {bad:?} the provider did not write in a JSON string: {message}"
            );
        }
    }
}

/// Every key and string value of a JSON body: the only places a provider's
/// own words can come from.
fn provider_strings(body: &[u8]) -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    out.push(k.clone());
                    walk(v, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    // Lossy: serde skips unknown fields without checking their UTF-8, so a
    // body the parser accepted may hold bytes a `Value` refuses.
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&String::from_utf8_lossy(body)) {
        walk(&v, &mut out);
    }
    out
}
