//! Bad input at every text field of the flows (issue 7, DESIGN.md
//! invariant 8): empty, a 1 MB paste, unicode (RTL, emoji, combining marks,
//! NUL), control characters, SQL, HTML and script, negative, zero and
//! overflowing amounts. Refused input gets a typed error whose message is
//! bounded, one line and does not carry the input back; nothing is written
//! to `transactions`, the audit chain still verifies, and no provider hears
//! of it. Free text (names, remarks) may accept unicode, SQL or markup as
//! text: then it is stored as written and breaks nothing.

mod support;

use kaunta_core::config::{Config, ProviderConfig};
use kaunta_core::ledger::State;
use kaunta_core::ledger::history::HistoryFilter;
use kaunta_core::providers::ProviderId;
use kaunta_core::redeem::giftpesa::GiftPesaInput;
use kaunta_core::redeem::payout::{PayoutInput, WebhookDelivery};
use kaunta_core::redeem::pesapal::CheckoutInput;
use kaunta_core::staff::{Role, Staff};
use kaunta_core::training::Fault;
use kaunta_core::{FlowError, PublicError};
use std::collections::BTreeMap;

use support::{ACTIVE, MAX_MESSAGE, TestTill, assert_audit_intact, transaction_count};

const MEGABYTE: usize = 1 << 20;

/// Input no structured field (code, amount, phone, till, email, PIN …) takes.
fn nasty() -> Vec<(&'static str, String)> {
    vec![
        ("empty", String::new()),
        ("blank", " \t ".into()),
        ("1mb", "7".repeat(MEGABYTE)),
        ("1mb_markup", "<b>x</b>".repeat(MEGABYTE / 8)),
        ("rtl", "\u{202e}0712345678\u{202c}".into()),
        ("emoji", "💳🎁💰".into()),
        ("combining", "A\u{0301}B\u{0308}C\u{0327}D".into()),
        ("nul", "07123\u{0}45678".into()),
        ("control", "\u{7}\u{1b}[31m07\r\n12".into()),
        ("sql", "'; DROP TABLE transactions; --".into()),
        ("script", "<script>alert(1)</script>".into()),
        ("img", "<img src=x onerror=alert(document.cookie)>".into()),
    ]
}

/// Amounts that are never money.
fn bad_amounts() -> Vec<(&'static str, String)> {
    let mut v = nasty();
    v.extend([
        ("negative", "-5".to_string()),
        ("zero", "0".into()),
        ("zero_cents", "0.00".into()),
        ("overflow", "99999999999999999999".into()),
        ("i64_max", i64::MAX.to_string()),
        ("exponent", "1e9".into()),
        ("nan", "NaN".into()),
        ("infinity", "inf".into()),
        ("too_precise", "12.345".into()),
    ]);
    v
}

/// Text a person may type into a free-text field.
fn free_text() -> Vec<(&'static str, String)> {
    nasty()
        .into_iter()
        .filter(|(k, _)| matches!(*k, "rtl" | "emoji" | "combining" | "sql" | "script" | "img"))
        .map(|(k, v)| (k, v.replace('\u{202c}', "")))
        .collect()
}

/// What changes when input is refused, taken before the attempt.
struct Snapshot {
    transactions: i64,
    requests: u64,
}

fn requests(t: &TestTill) -> u64 {
    let s = t.till.simulators().unwrap();
    [&s.pesavoucher.faults, &s.telesend.faults, &s.giftpesa.faults, &s.pesapal.faults, &s.bitpesa.faults]
        .iter()
        .map(|b| b.received().values().sum::<u64>())
        .sum()
}

fn snapshot(t: &TestTill) -> Snapshot {
    Snapshot { transactions: transaction_count(&t.till), requests: requests(t) }
}

thread_local! {
    /// Refusals whose message quotes control characters of the input (NUL,
    /// ESC, CR/LF): collected so every other check still runs, asserted at
    /// the end of each test by `assert_no_echoed_controls`.
    static ECHOED_CONTROLS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// No refusal quotes control characters of its input (NUL, an ESC
/// sequence, CR/LF): they would reach the message, and a terminal for the
/// CLI. Parsers quote input through `kaunta_core::text::excerpt`.
fn assert_no_echoed_controls() {
    let echoed = ECHOED_CONTROLS.with(|e| std::mem::take(&mut *e.borrow_mut()));
    assert!(echoed.is_empty(), "messages quoting control characters:\n{}", echoed.join("\n"));
}

/// A refusal's message: short, one line, without the input it refuses.
fn assert_refusal_message(cell: &str, input: &str, message: &str) {
    assert!(!message.trim().is_empty(), "{cell}: empty message");
    assert!(message.chars().count() <= MAX_MESSAGE, "{cell}: message of {} chars", message.chars().count());
    if message.chars().any(char::is_control) {
        ECHOED_CONTROLS.with(|e| e.borrow_mut().push(format!("{cell}: {message:?}")));
    }
    if input.chars().count() > 24 {
        assert!(!message.contains(input), "{cell}: the whole input is echoed: {message}");
    }
    // A short quote of what was typed is fine (the UI escapes it); a whole
    // script tag is not.
    for markup in ["<script>alert(1)</script>", "<img src=x onerror=alert(document.cookie)>"] {
        assert!(!message.contains(markup), "{cell}: markup echoed: {message}");
    }
}

/// The input was refused before anything was written or sent.
fn assert_refused<T: std::fmt::Debug>(
    cell: &str,
    t: &TestTill,
    before: &Snapshot,
    input: &str,
    answer: Result<T, PublicError>,
) -> PublicError {
    let e = match answer {
        Ok(v) => panic!("{cell}: accepted: {v:?}"),
        Err(e) => e,
    };
    assert_refusal_message(cell, input, &e.message);
    assert_eq!(transaction_count(&t.till), before.transactions, "{cell}: a transaction was written");
    assert_eq!(requests(t), before.requests, "{cell}: a provider was asked");
    assert_audit_intact(cell, &t.till);
    e
}

fn public(e: FlowError) -> PublicError {
    e.to_public()
}

#[tokio::test]
async fn pesavoucher_codes() {
    let t = support::till().await;
    for (kind, code) in nasty() {
        let before = snapshot(&t);
        let cell = format!("pesavoucher code {kind}");
        let e = assert_refused(&cell, &t, &before, &code, t.till.redeem_voucher("Amina", &code).await.map_err(public));
        assert_eq!(e.code, "invalid_code", "{cell}");
        let e =
            assert_refused(&cell, &t, &before, &code, t.till.validate_voucher("Amina", &code).await.map_err(public));
        assert_eq!(e.code, "invalid_code", "{cell}");
    }
    assert_eq!(transaction_count(&t.till), 0);
    assert_no_echoed_controls();
}

#[tokio::test]
async fn telesend_codes_amounts_and_sms_codes() {
    let t = support::till().await;
    for (kind, input) in nasty() {
        let before = snapshot(&t);
        let cell = format!("telesend code {kind}");
        assert_refused(&cell, &t, &before, &input, t.till.claim_gift("Amina", &input, None).await.map_err(public));
        assert_refused(&cell, &t, &before, &input, t.till.redeem_gift("Amina", &input, None).await.map_err(public));
        // An empty SMS code means "anonymous voucher": asked of Telesend.
        if !input.trim().is_empty() {
            let cell = format!("telesend verification code {kind}");
            let e = assert_refused(
                &cell,
                &t,
                &before,
                &input,
                t.till.redeem_gift("Amina", "TS-GIFT-1000", Some(&input)).await.map_err(public),
            );
            assert_eq!(e.code, "invalid_verification_code", "{cell}");
        }
    }
    for (kind, amount) in bad_amounts() {
        // An empty amount means "the whole voucher", a valid claim.
        if amount.trim().is_empty() {
            continue;
        }
        let before = snapshot(&t);
        let cell = format!("telesend amount {kind}");
        let e = assert_refused(
            &cell,
            &t,
            &before,
            &amount,
            t.till.claim_gift("Amina", "TS-GIFT-1000", Some(&amount)).await.map_err(public),
        );
        assert_eq!(e.code, "invalid_amount", "{cell}");
    }
    assert_eq!(transaction_count(&t.till), 0);
    assert_no_echoed_controls();
}

fn giftpesa_input() -> GiftPesaInput {
    GiftPesaInput {
        name: "Jane Doe".into(),
        phone: "0720123456".into(),
        amount: "100".into(),
        till: None,
        remarks: None,
        confirm_repeat: false,
    }
}

#[tokio::test]
async fn giftpesa_fields() {
    let t = support::till().await;
    let mut cases: Vec<(String, String, GiftPesaInput)> = Vec::new();
    for (kind, v) in nasty() {
        let i = giftpesa_input();
        cases.push((format!("giftpesa phone {kind}"), v.clone(), GiftPesaInput { phone: v.clone(), ..i.clone() }));
        if !v.trim().is_empty() {
            // Empty till or remarks mean "the configured till", "no remarks".
            cases.push((
                format!("giftpesa till {kind}"),
                v.clone(),
                GiftPesaInput { till: Some(v.clone()), ..i.clone() },
            ));
        }
        if matches!(kind, "empty" | "blank" | "1mb" | "1mb_markup" | "nul" | "control") {
            cases.push((format!("giftpesa name {kind}"), v.clone(), GiftPesaInput { name: v.clone(), ..i.clone() }));
            if !v.trim().is_empty() {
                cases.push((format!("giftpesa remarks {kind}"), v.clone(), GiftPesaInput { remarks: Some(v), ..i }));
            }
        }
    }
    for (kind, v) in bad_amounts() {
        cases.push((format!("giftpesa amount {kind}"), v.clone(), GiftPesaInput { amount: v, ..giftpesa_input() }));
    }
    for (cell, input, i) in cases {
        let before = snapshot(&t);
        assert_refused(&cell, &t, &before, &input, t.till.redeem_giftpesa("Amina", &i).await.map_err(public));
    }
    assert_eq!(transaction_count(&t.till), 0);
    assert_no_echoed_controls();
}

#[tokio::test]
async fn giftpesa_free_text_is_stored_as_written() {
    let t = support::till().await;
    for (n, (kind, text)) in free_text().into_iter().enumerate() {
        let cell = format!("giftpesa free text {kind}");
        // One customer per attempt: a completed redemption does not block the phone.
        let i =
            GiftPesaInput { name: text.clone(), remarks: Some(text.clone()), amount: "1".into(), ..giftpesa_input() };
        match t.till.redeem_giftpesa("Amina", &i).await {
            Ok(r) => {
                assert_eq!(r.state, "completed", "{cell}");
                let row = t.till.ledger().transaction(&r.transaction_id).unwrap().unwrap();
                assert_eq!(row.customer_name.as_deref(), Some(text.trim()), "{cell}");
            }
            Err(e) => assert_refusal_message(&cell, &text, &e.to_string()),
        }
        assert_eq!(transaction_count(&t.till) as usize, n + 1, "{cell}: the table is intact");
        assert_audit_intact(&cell, &t.till);
    }
    assert_no_echoed_controls();
}

fn checkout() -> CheckoutInput {
    CheckoutInput {
        amount: "300".into(),
        description: "Groceries".into(),
        phone: Some("0723456456".into()),
        ..CheckoutInput::default()
    }
}

#[tokio::test]
async fn pesapal_fields() {
    let t = support::till().await;
    let mut cases: Vec<(String, String, CheckoutInput)> = Vec::new();
    for (kind, v) in nasty() {
        cases.push((
            format!("pesapal phone {kind}"),
            v.clone(),
            CheckoutInput { phone: Some(v.clone()), ..checkout() },
        ));
        cases.push((
            format!("pesapal email {kind}"),
            v.clone(),
            CheckoutInput { phone: None, email: Some(v.clone()), ..checkout() },
        ));
        if matches!(kind, "empty" | "blank" | "1mb" | "1mb_markup" | "nul" | "control") {
            cases.push((
                format!("pesapal description {kind}"),
                v.clone(),
                CheckoutInput { description: v.clone(), ..checkout() },
            ));
            if !v.trim().is_empty() {
                cases.push((
                    format!("pesapal first name {kind}"),
                    v.clone(),
                    CheckoutInput { first_name: Some(v.clone()), ..checkout() },
                ));
                cases.push((
                    format!("pesapal last name {kind}"),
                    v.clone(),
                    CheckoutInput { last_name: Some(v), ..checkout() },
                ));
            }
        }
    }
    for (kind, v) in bad_amounts() {
        cases.push((format!("pesapal amount {kind}"), v.clone(), CheckoutInput { amount: v, ..checkout() }));
    }
    for (cell, input, i) in cases {
        let before = snapshot(&t);
        assert_refused(&cell, &t, &before, &input, t.till.checkout_pesapal("Amina", &i).await.map_err(public));
    }
    assert!(t.till.simulators().unwrap().pesapal.orders().is_empty());
    assert_no_echoed_controls();
}

#[tokio::test]
async fn refund_fields() {
    let t = support::till().await;
    let manager = Staff { name: "Manager Njeri".into(), role: Role::Manager };
    let email = "customer@example.com";
    let mut cases: Vec<(String, String, String, String, Option<String>)> = Vec::new();
    for (kind, v) in nasty() {
        cases.push((format!("refund email {kind}"), v.clone(), v.clone(), "500".into(), None));
        if matches!(kind, "1mb" | "1mb_markup" | "nul" | "control") {
            cases.push((format!("refund message {kind}"), v.clone(), email.into(), "500".into(), Some(v)));
        }
    }
    for (kind, v) in bad_amounts() {
        cases.push((format!("refund amount {kind}"), v.clone(), email.into(), v, None));
    }
    cases.push(("refund amount below 50".into(), "49.99".into(), email.into(), "49.99".into(), None));
    cases.push(("refund amount above 150,000".into(), "150000.01".into(), email.into(), "150000.01".into(), None));
    for (cell, input, email, amount, message) in cases {
        let before = snapshot(&t);
        let answer = t.till.refund_voucher(&manager, &email, &amount, message.as_deref()).await.map_err(public);
        assert_refused(&cell, &t, &before, &input, answer);
    }
    assert_no_echoed_controls();
}

#[tokio::test]
async fn staff_names_and_pins() {
    let t = support::till().await;
    for (kind, v) in nasty() {
        let cell = format!("staff pin {kind}");
        let before = snapshot(&t);
        let e = t.till.create_first_manager("Njeri", &v).await.unwrap_err().to_public();
        assert_refusal_message(&cell, &v, &e.message);
        assert_eq!(e.code, "invalid_pin", "{cell}");
        assert_eq!(transaction_count(&t.till), before.transactions);
        if matches!(kind, "empty" | "blank" | "1mb" | "1mb_markup" | "nul" | "control") {
            let cell = format!("staff name {kind}");
            let e = t.till.create_first_manager(&v, "1234").await.unwrap_err().to_public();
            assert_refusal_message(&cell, &v, &e.message);
            assert_eq!(e.code, "invalid_name", "{cell}");
        }
    }
    assert!(t.till.needs_first_manager().await.unwrap(), "no manager was created");
    t.till.create_first_manager("Njeri", "2468").await.unwrap();
    // Signing in with nonsense is a wrong attempt, recorded, never a crash.
    for (kind, v) in nasty() {
        let cell = format!("sign in {kind}");
        let e = t.till.check_pin(&v, &v, "sign_in").await.unwrap_err().to_public();
        assert_refusal_message(&cell, &v, &e.message);
        assert_eq!(e.code, "wrong_pin", "{cell}");
    }
    assert_eq!(transaction_count(&t.till), 0);
    assert_audit_intact("staff", &t.till);
    assert_no_echoed_controls();
}

/// A reason is one line of text: blank, over-long, or with a NUL or other
/// control characters, it is refused and nothing is written.
#[tokio::test]
async fn resolve_reasons() {
    let t = support::till().await;
    t.till.simulators().unwrap().telesend.faults.inject("redeem-gift", Fault::DropAfterApply);
    let r = t.till.redeem_gift("Amina", "TS-ANON-500", None).await.unwrap();
    assert_eq!(r.state, "unknown");
    for (kind, v) in nasty() {
        // Free text (SQL, markup, unicode) is a valid reason; these are not.
        if !matches!(kind, "empty" | "blank" | "1mb" | "1mb_markup" | "nul" | "control") {
            continue;
        }
        let cell = format!("resolve reason {kind}");
        let before = snapshot(&t);
        let answer = t.till.resolve("Manager Njeri", &r.transaction_id, State::Completed, &v).await.map_err(public);
        let e = assert_refused(&cell, &t, &before, &v, answer);
        assert_eq!(e.code, "invalid_resolution", "{cell}");
        let row = t.till.ledger().transaction(&r.transaction_id).unwrap().unwrap();
        assert_eq!(row.state, State::Unknown, "{cell}: the transaction was resolved");
    }
    assert_no_echoed_controls();
}

#[tokio::test]
async fn history_search_text() {
    let t = support::till().await;
    t.till.redeem_voucher("Amina", ACTIVE).await.unwrap();
    for (kind, v) in nasty() {
        let cell = format!("history search {kind}");
        let filter = HistoryFilter { search: Some(v.clone()), ..HistoryFilter::default() };
        match t.till.history("Manager Njeri", filter, None, 50).await {
            // Searching is reading: any text is a fragment that matches or not.
            Ok(page) => assert!(page.rows.len() <= 1, "{cell}"),
            Err(e) => assert_refusal_message(&cell, &v, &e.to_string()),
        }
        if v.len() >= MEGABYTE {
            let filter = HistoryFilter { search: Some(v.clone()), ..HistoryFilter::default() };
            assert!(t.till.history("Manager Njeri", filter, None, 50).await.is_err(), "{cell}: 1 MB search");
        }
        assert_eq!(transaction_count(&t.till), 1, "{cell}: the table is intact");
    }
    assert_audit_intact("history", &t.till);
    assert_no_echoed_controls();
}

/// An invalid base_url is quoted short and clean, never a 1 MB message.
#[test]
fn config_values() {
    let dir = tempfile::tempdir().unwrap();
    for (kind, v) in nasty() {
        let cell = format!("config till_id {kind}");
        let e = Config { till_id: v.clone(), ..Config::default() }.save(dir.path()).unwrap_err().to_string();
        assert_refusal_message(&cell, &v, &e);
        let mut c = Config::default();
        c.providers.insert(ProviderId::PesaVoucher, ProviderConfig { base_url: Some(v.clone()), ..Default::default() });
        let cell = format!("config base_url {kind}");
        let e = c.save(dir.path()).unwrap_err().to_string();
        assert_refusal_message(&cell, &v, &e);
        if matches!(kind, "empty" | "blank" | "1mb" | "1mb_markup" | "nul" | "control") {
            let cell = format!("config store_name {kind}");
            let e = Config { store_name: v.clone(), ..Config::default() }.save(dir.path()).unwrap_err().to_string();
            assert_refusal_message(&cell, &v, &e);
        }
        assert!(!dir.path().join("config.toml").exists(), "{cell}: a refused config was written");
    }
    // A config.toml damaged by hand is refused on load with a message, never a panic.
    for (kind, text) in [
        ("garbage", "\u{0}\u{7}<script>alert(1)</script>".to_string()),
        ("1mb", format!("store_name = \"{}\"\n", "x".repeat(MEGABYTE))),
        ("sql till", "till_id = \"'; DROP TABLE transactions; --\"\n".to_string()),
        ("http base_url", "[providers.pesavoucher]\nbase_url = \"http://evil.example.com/api\"\n".to_string()),
    ] {
        std::fs::write(dir.path().join("config.toml"), &text).unwrap();
        let e = Config::load(dir.path()).unwrap_err().to_string();
        assert_refusal_message(&format!("config.toml {kind}"), &text, &e);
    }
    assert_no_echoed_controls();
}

#[tokio::test]
async fn giftpesa_certificate_import() {
    let t = support::till().await;
    let mut inputs: Vec<(&str, Vec<u8>)> = nasty().into_iter().map(|(k, v)| (k, v.into_bytes())).collect();
    inputs.push(("random bytes", (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect()));
    inputs.push((
        "pem with garbage",
        b"-----BEGIN CERTIFICATE-----\nPHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\n-----END CERTIFICATE-----\n".to_vec(),
    ));
    for (kind, bytes) in inputs {
        let cell = format!("certificate {kind}");
        let before = snapshot(&t);
        let e = t.till.import_giftpesa_certificate(&bytes, "Manager Njeri").await.unwrap_err();
        assert_refusal_message(&cell, &String::from_utf8_lossy(&bytes), &e.to_string());
        assert!(!t.till.data_dir().join(kaunta_core::till::GIFTPESA_CERTIFICATE).exists(), "{cell}: file written");
        assert_eq!(requests(&t), before.requests);
    }
    assert_audit_intact("certificate", &t.till);
    assert_no_echoed_controls();
}

/// A valid payout per corridor, each field as the manager's form sends it.
fn payouts() -> Vec<PayoutInput> {
    let form = |corridor: &str, fields: &[(&str, &str)]| PayoutInput {
        corridor: corridor.into(),
        amount: "1500".into(),
        recipient: fields.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
        reason: "Refund of order 123".into(),
    };
    vec![
        form("KES::Mobile", &[("first_name", "Amina"), ("last_name", "Wanjiru"), ("phone_number", "0712345678")]),
        form(
            "KES::Bank",
            &[
                ("name", "Acme Supplies Ltd"),
                ("bank_code", "03"),
                ("bank_account", "1234567890"),
                ("street", "1 Main St"),
            ],
        ),
        form(
            "UGX::Mobile",
            &[
                ("first_name", "Okello"),
                ("last_name", "Mugisha"),
                ("phone_number", "+256772123456"),
                ("mobile_provider", "mtn"),
            ],
        ),
    ]
}

/// Every field of every payout corridor (recipient fields, amount, reason,
/// the corridor itself, a field the corridor does not have): refused before
/// a ledger row is written or BitPesa hears of it. Names take unicode, SQL
/// and markup as text, so only what no name is gets tried on them.
#[tokio::test]
async fn bitpesa_payout_fields() {
    let t = support::till().await;
    let manager = Staff { name: "Njeri".into(), role: Role::Manager };
    let mut cases: Vec<(String, String, PayoutInput)> = Vec::new();
    for valid in payouts() {
        let corridor = valid.corridor.clone();
        for field in valid.recipient.keys() {
            let free_text = matches!(field.as_str(), "first_name" | "last_name" | "name" | "street");
            for (kind, v) in nasty() {
                if free_text && !matches!(kind, "empty" | "blank" | "1mb" | "1mb_markup" | "nul" | "control") {
                    continue;
                }
                let mut input = valid.clone();
                input.recipient.insert(field.clone(), v.clone());
                cases.push((format!("{corridor} {field} {kind}"), v, input));
            }
        }
        for (kind, v) in bad_amounts() {
            cases.push((format!("{corridor} amount {kind}"), v.clone(), PayoutInput { amount: v, ..valid.clone() }));
        }
        // BitPesa pays KES and UGX in whole units.
        cases.push((
            format!("{corridor} amount cents"),
            "1500.50".into(),
            PayoutInput { amount: "1500.50".into(), ..valid.clone() },
        ));
        for (kind, v) in nasty() {
            if matches!(kind, "empty" | "blank" | "1mb" | "1mb_markup" | "nul" | "control") {
                cases.push((
                    format!("{corridor} reason {kind}"),
                    v.clone(),
                    PayoutInput { reason: v.clone(), ..valid.clone() },
                ));
            }
            let mut input = valid.clone();
            input.recipient.insert(v.clone(), "x".into());
            cases.push((format!("{corridor} unknown field {kind}"), v.clone(), input));
            cases.push((format!("corridor {kind}"), v.clone(), PayoutInput { corridor: v, ..valid.clone() }));
        }
    }
    let sim = t.till.simulators().unwrap().bitpesa.clone();
    let balances = |sim: &kaunta_core::training::bitpesa::BitPesaSim| {
        [kaunta_core::money::Currency::KES, kaunta_core::money::Currency::UGX].map(|c| sim.balance(c))
    };
    let opening = balances(&sim);
    for (cell, input, payout) in cases {
        let before = snapshot(&t);
        assert_refused(&cell, &t, &before, &input, t.till.start_payout(&manager, &payout).await.map_err(public));
    }
    assert_eq!(balances(&sim), opening, "no money moved");
    // The valid forms themselves are accepted: the refusals above are the fields, not the form.
    for valid in payouts() {
        let view = t.till.start_payout(&manager, &valid).await.map_err(public).unwrap();
        assert_eq!(view.state, "pending", "{}: {view:?}", valid.corridor);
    }
    assert_no_echoed_controls();
}

/// An imported webhook delivery with nonsense in any part is refused with a
/// short message: it changes no transaction and asks BitPesa nothing.
#[tokio::test]
async fn bitpesa_webhook_import() {
    let t = support::till().await;
    let valid = WebhookDelivery {
        url: "https://kaunta.example.com/webhooks/bitpesa".into(),
        key: "training-key".into(),
        nonce: "0d6a4b6c-3c4f-4a7e-9a38-1f0b6a9d7c11".into(),
        signature: "00".repeat(64),
        body: r#"{"event":"transaction.paid_out","object":{"id":"x"}}"#.into(),
    };
    for (kind, v) in nasty() {
        for part in ["url", "key", "nonce", "signature", "body"] {
            let mut d = valid.clone();
            match part {
                "url" => d.url = v.clone(),
                "key" => d.key = v.clone(),
                "nonce" => d.nonce = v.clone(),
                "signature" => d.signature = v.clone(),
                _ => d.body = v.clone(),
            }
            let cell = format!("webhook {part} {kind}");
            let before = snapshot(&t);
            assert_refused(&cell, &t, &before, &v, t.till.import_bitpesa_webhook("Njeri", &d).await.map_err(public));
        }
    }
    assert_no_echoed_controls();
}

/// Credentials typed into Settings: every field of every provider, and JSON
/// of the wrong shape. Refused with a message that never quotes the value
/// (it is a secret); the keyring keeps nothing; the refusal is audited.
#[tokio::test]
async fn credential_fields() {
    let t = support::till().await;
    let shapes: [(ProviderId, &[&str]); 5] = [
        (ProviderId::PesaVoucher, &["api_key", "api_secret"]),
        (ProviderId::Telesend, &["api_token"]),
        (ProviderId::GiftPesa, &["username", "api_key"]),
        (ProviderId::Pesapal, &["consumer_key", "consumer_secret"]),
        (ProviderId::BitPesa, &["api_key", "api_secret"]),
    ];
    let configured = |t: &TestTill| t.till.credential_status().iter().filter(|s| s.configured).count();
    assert_eq!(configured(&t), 0);
    for (provider, fields) in shapes {
        let valid = || -> serde_json::Map<String, serde_json::Value> {
            fields.iter().map(|f| (f.to_string(), serde_json::Value::from(format!("ok-{f}-1234")))).collect()
        };
        let mut cases: Vec<(String, String, serde_json::Value)> = Vec::new();
        for field in fields {
            for (kind, v) in nasty() {
                // A secret may be any printable text; these are no secret.
                if !matches!(kind, "empty" | "blank" | "1mb" | "1mb_markup" | "nul" | "control") {
                    continue;
                }
                let mut json = valid();
                json.insert(field.to_string(), v.clone().into());
                cases.push((format!("{provider} {field} {kind}"), v, json.into()));
            }
            let mut missing = valid();
            missing.remove(*field);
            cases.push((format!("{provider} without {field}"), String::new(), missing.into()));
            let mut number = valid();
            number.insert(field.to_string(), serde_json::json!(12345));
            cases.push((format!("{provider} {field} a number"), String::new(), number.into()));
        }
        for (kind, json) in [
            ("a string", serde_json::json!("<script>alert(1)</script>")),
            ("an array", serde_json::json!([1, 2, 3])),
            ("null", serde_json::Value::Null),
        ] {
            cases.push((format!("{provider} {kind}"), String::new(), json));
        }
        for (cell, input, json) in cases {
            let before = snapshot(&t);
            let answer = t.till.set_credentials(provider, json, "Njeri").await.map_err(public);
            let e = assert_refused(&cell, &t, &before, &input, answer);
            // The value is a secret: not even an excerpt of it comes back.
            let quoted = input.trim().chars().take(8).collect::<String>();
            if quoted.chars().count() >= 4 {
                assert!(!e.message.contains(&quoted), "{cell}: the secret is quoted: {}", e.message);
            }
        }
        // Read once per provider: each read is a D-Bus round trip.
        assert_eq!(configured(&t), 0, "{provider}: something was saved");
    }
    let conn = rusqlite::Connection::open(t.till.ledger().path()).unwrap();
    let (attempts, failures): (i64, i64) = conn
        .query_row(
            "SELECT count(*), count(*) FILTER (WHERE outcome = 'failure') FROM audit_log WHERE event = 'credentials_changed'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(attempts > 0);
    assert_eq!(attempts, failures, "every refusal is audited as a failure");
    assert_no_echoed_controls();
}
