//! Every counter provider × every fault the simulators inject (issue 7):
//! for each cell, the provider applied at most one redemption, the ledger
//! ends in the state written in the table below, the cashier reads plain
//! words, and the audit log has the attempt and the outcome.
//!
//! Test names say the cell: `pesavoucher_redeem::drop_after_apply`.
//!
//! Every cell's message passes `assert_plain`: a provider's raw body (a
//! JSON error, an nginx HTML page) or serde's complaint about a cut-off
//! answer goes to the audit row (each provider error's `detail`), never to
//! the cashier.
//!
//! The expected states follow DESIGN.md invariant 2 and 3: a provider that
//! said no is `failed`; a lost or unreadable answer after sending (5xx,
//! HTML page, cut-off JSON, dropped connection, timeout) is `unknown`,
//! reconciled by asking the provider where it can be asked (PesaVoucher
//! validate_voucher, Pesapal GetTransactionStatus) and left for a manager
//! where it cannot (Telesend, GiftPesa). A Pesapal order whose answer was
//! lost is `failed`: without the redirect URL nobody can pay it.

mod support;

use std::time::Duration;

use kaunta_core::FlowError;
use kaunta_core::ledger::State;
use kaunta_core::redeem::RedemptionResult;
use kaunta_core::redeem::giftpesa::GiftPesaInput;
use kaunta_core::redeem::pesapal::CheckoutInput;
use kaunta_core::training::Fault;
use support::{ACTIVE, TestTill, assert_audit_intact, assert_plain, audit_count};

/// How long a request may go unanswered in these tests (the Hang cells):
/// long enough for a loaded debug build, short enough to keep cells quick.
const HANG_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// redeem_voucher of a KES 750 voucher (validated first).
    PesaVoucher,
    /// initiate-claim, then redeem-gift with the SMS code.
    TelesendClaimed,
    /// redeem-gift of an anonymous voucher, no claim.
    TelesendAnonymous,
    /// POST /redeem of KES 100 from Jane Doe's gift balance.
    GiftPesa,
    /// SubmitOrderRequest of a KES 300 checkout.
    PesapalSubmit,
    /// GetTransactionStatus of a checkout the customer has paid.
    PesapalStatus,
}

impl Scenario {
    fn endpoint(self) -> &'static str {
        match self {
            Scenario::PesaVoucher => "redeem_voucher",
            Scenario::TelesendClaimed | Scenario::TelesendAnonymous => "redeem-gift",
            Scenario::GiftPesa => "redeem",
            Scenario::PesapalSubmit => "SubmitOrderRequest",
            Scenario::PesapalStatus => "GetTransactionStatus",
        }
    }
}

/// One cell's expectation.
#[derive(Debug, Clone, Copy)]
struct Expect {
    /// The ledger's state right after the faulted call.
    now: State,
    /// After reconciliation: `recover()` (redemptions) or the next status
    /// query (Pesapal status). `Unknown` here means: awaiting a manager.
    settled: State,
    /// Redemptions (orders, payments recorded) the provider applied.
    applied: u32,
}

const fn expect(now: State, settled: State, applied: u32) -> Expect {
    Expect { now, settled, applied }
}

use State::{Completed, Failed, Pending, Unknown};

const LATENCY: Fault = Fault::Latency { ms: 300 };

/// Generates one module per scenario and one test per fault, with its
/// expected outcome written out.
macro_rules! matrix {
    ($($module:ident: $scenario:expr => { $($cell:ident: $fault:expr => $expect:expr,)* })*) => {
        $(mod $module {
            use super::*;
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $cell() {
                run(concat!(stringify!($module), "::", stringify!($cell)), $scenario, $fault, $expect).await;
            })*
        })*
    };
}

matrix! {
    pesavoucher_redeem: Scenario::PesaVoucher => {
        latency: LATENCY => expect(Completed, Completed, 1),
        status_500: Fault::Status { status: 500 } => expect(Unknown, Failed, 0),
        status_502: Fault::Status { status: 502 } => expect(Unknown, Failed, 0),
        status_503: Fault::Status { status: 503 } => expect(Unknown, Failed, 0),
        // 429 is an answer: PesaVoucher refused, nothing was redeemed.
        rate_limited: Fault::RateLimited { retry_after: 1 } => expect(Failed, Failed, 0),
        status_after_apply_500: Fault::StatusAfterApply { status: 500 } => expect(Unknown, Completed, 1),
        malformed_json: Fault::MalformedJson => expect(Unknown, Completed, 1),
        html_error_page: Fault::HtmlErrorPage { status: 502 } => expect(Unknown, Failed, 0),
        drop_before_apply: Fault::DropBeforeApply => expect(Unknown, Failed, 0),
        drop_after_apply: Fault::DropAfterApply => expect(Unknown, Completed, 1),
        hang_before_apply: Fault::HangBeforeApply => expect(Unknown, Failed, 0),
        hang_after_apply: Fault::HangAfterApply => expect(Unknown, Completed, 1),
    }
    telesend_claimed: Scenario::TelesendClaimed => {
        latency: LATENCY => expect(Completed, Completed, 1),
        // Telesend has no status query: every lost answer waits for a manager.
        status_500: Fault::Status { status: 500 } => expect(Unknown, Unknown, 0),
        status_502: Fault::Status { status: 502 } => expect(Unknown, Unknown, 0),
        status_503: Fault::Status { status: 503 } => expect(Unknown, Unknown, 0),
        rate_limited: Fault::RateLimited { retry_after: 1 } => expect(Failed, Failed, 0),
        status_after_apply_500: Fault::StatusAfterApply { status: 500 } => expect(Unknown, Unknown, 1),
        malformed_json: Fault::MalformedJson => expect(Unknown, Unknown, 1),
        html_error_page: Fault::HtmlErrorPage { status: 502 } => expect(Unknown, Unknown, 0),
        drop_before_apply: Fault::DropBeforeApply => expect(Unknown, Unknown, 0),
        drop_after_apply: Fault::DropAfterApply => expect(Unknown, Unknown, 1),
        hang_before_apply: Fault::HangBeforeApply => expect(Unknown, Unknown, 0),
        hang_after_apply: Fault::HangAfterApply => expect(Unknown, Unknown, 1),
    }
    telesend_anonymous: Scenario::TelesendAnonymous => {
        latency: LATENCY => expect(Completed, Completed, 1),
        status_500: Fault::Status { status: 500 } => expect(Unknown, Unknown, 0),
        status_502: Fault::Status { status: 502 } => expect(Unknown, Unknown, 0),
        status_503: Fault::Status { status: 503 } => expect(Unknown, Unknown, 0),
        rate_limited: Fault::RateLimited { retry_after: 1 } => expect(Failed, Failed, 0),
        status_after_apply_500: Fault::StatusAfterApply { status: 500 } => expect(Unknown, Unknown, 1),
        malformed_json: Fault::MalformedJson => expect(Unknown, Unknown, 1),
        html_error_page: Fault::HtmlErrorPage { status: 502 } => expect(Unknown, Unknown, 0),
        drop_before_apply: Fault::DropBeforeApply => expect(Unknown, Unknown, 0),
        drop_after_apply: Fault::DropAfterApply => expect(Unknown, Unknown, 1),
        hang_before_apply: Fault::HangBeforeApply => expect(Unknown, Unknown, 0),
        hang_after_apply: Fault::HangAfterApply => expect(Unknown, Unknown, 1),
    }
    giftpesa_redeem: Scenario::GiftPesa => {
        latency: LATENCY => expect(Completed, Completed, 1),
        // GiftPesa has no status query either: a manager decides.
        status_500: Fault::Status { status: 500 } => expect(Unknown, Unknown, 0),
        status_502: Fault::Status { status: 502 } => expect(Unknown, Unknown, 0),
        status_503: Fault::Status { status: 503 } => expect(Unknown, Unknown, 0),
        // /redeem is sent once, never retried on 429: a refusal.
        rate_limited: Fault::RateLimited { retry_after: 1 } => expect(Failed, Failed, 0),
        status_after_apply_500: Fault::StatusAfterApply { status: 500 } => expect(Unknown, Unknown, 1),
        malformed_json: Fault::MalformedJson => expect(Unknown, Unknown, 1),
        html_error_page: Fault::HtmlErrorPage { status: 502 } => expect(Unknown, Unknown, 0),
        drop_before_apply: Fault::DropBeforeApply => expect(Unknown, Unknown, 0),
        drop_after_apply: Fault::DropAfterApply => expect(Unknown, Unknown, 1),
        hang_before_apply: Fault::HangBeforeApply => expect(Unknown, Unknown, 0),
        hang_after_apply: Fault::HangAfterApply => expect(Unknown, Unknown, 1),
    }
    pesapal_submit_order: Scenario::PesapalSubmit => {
        // The order is open and waits for the customer: pending is not failed.
        latency: LATENCY => expect(Pending, Pending, 1),
        status_500: Fault::Status { status: 500 } => expect(Failed, Failed, 0),
        status_502: Fault::Status { status: 502 } => expect(Failed, Failed, 0),
        status_503: Fault::Status { status: 503 } => expect(Failed, Failed, 0),
        rate_limited: Fault::RateLimited { retry_after: 1 } => expect(Failed, Failed, 0),
        // The order exists at Pesapal but nobody has its redirect URL: no
        // money can move through it, so the checkout failed.
        status_after_apply_500: Fault::StatusAfterApply { status: 500 } => expect(Failed, Failed, 1),
        malformed_json: Fault::MalformedJson => expect(Failed, Failed, 1),
        html_error_page: Fault::HtmlErrorPage { status: 502 } => expect(Failed, Failed, 0),
        drop_before_apply: Fault::DropBeforeApply => expect(Failed, Failed, 0),
        drop_after_apply: Fault::DropAfterApply => expect(Failed, Failed, 1),
        hang_before_apply: Fault::HangBeforeApply => expect(Failed, Failed, 0),
        hang_after_apply: Fault::HangAfterApply => expect(Failed, Failed, 1),
    }
    pesapal_transaction_status: Scenario::PesapalStatus => {
        // A failed status query changes nothing: the payment stays pending
        // (never failed) and the next query records it, once.
        latency: LATENCY => expect(Completed, Completed, 1),
        status_500: Fault::Status { status: 500 } => expect(Pending, Completed, 1),
        status_502: Fault::Status { status: 502 } => expect(Pending, Completed, 1),
        status_503: Fault::Status { status: 503 } => expect(Pending, Completed, 1),
        rate_limited: Fault::RateLimited { retry_after: 1 } => expect(Pending, Completed, 1),
        status_after_apply_500: Fault::StatusAfterApply { status: 500 } => expect(Pending, Completed, 1),
        malformed_json: Fault::MalformedJson => expect(Pending, Completed, 1),
        html_error_page: Fault::HtmlErrorPage { status: 502 } => expect(Pending, Completed, 1),
        drop_before_apply: Fault::DropBeforeApply => expect(Pending, Completed, 1),
        drop_after_apply: Fault::DropAfterApply => expect(Pending, Completed, 1),
        hang_before_apply: Fault::HangBeforeApply => expect(Pending, Completed, 1),
        hang_after_apply: Fault::HangAfterApply => expect(Pending, Completed, 1),
    }
}

const GIFTPESA_PHONE: &str = "0720123456";

fn giftpesa_input() -> GiftPesaInput {
    GiftPesaInput {
        name: "Jane Doe".into(),
        phone: GIFTPESA_PHONE.into(),
        amount: "100".into(),
        till: None,
        remarks: Some("Fault matrix".into()),
    }
}

fn checkout_input() -> CheckoutInput {
    CheckoutInput {
        amount: "300".into(),
        description: "Groceries".into(),
        phone: Some("0723456456".into()),
        ..CheckoutInput::default()
    }
}

/// What the cashier saw: the message, and the transaction it is about.
struct Seen {
    message: String,
    transaction_id: String,
}

fn seen(t: &TestTill, answer: Result<RedemptionResult, FlowError>) -> Seen {
    match answer {
        Ok(r) => Seen { message: r.message, transaction_id: r.transaction_id },
        Err(e) => {
            Seen { message: e.to_public().message, transaction_id: t.till.ledger().recent(1).unwrap()[0].id.clone() }
        }
    }
}

/// The provider's own count of what it applied for this scenario.
fn applied(t: &TestTill, scenario: Scenario) -> u32 {
    let sims = t.till.simulators().unwrap();
    match scenario {
        Scenario::PesaVoucher => sims.pesavoucher.redemption_counts().get(ACTIVE).copied().unwrap_or(0),
        Scenario::TelesendClaimed => sims.telesend.redemption_counts().get("TS-GIFT-1000").copied().unwrap_or(0),
        Scenario::TelesendAnonymous => sims.telesend.redemption_counts().get("TS-ANON-500").copied().unwrap_or(0),
        // Keyed by TransactionID: any id counts, so a second send shows.
        Scenario::GiftPesa => sims.giftpesa.redemption_counts().values().sum(),
        Scenario::PesapalSubmit => sims.pesapal.orders().len() as u32,
        // Payments recorded by the till for the paid order.
        Scenario::PesapalStatus => audit_count(&t.till, "checkout_outcome") as u32,
    }
}

async fn run(cell: &str, scenario: Scenario, fault: Fault, expect: Expect) {
    let t = support::till().await;
    if matches!(fault, Fault::HangAfterApply | Fault::HangBeforeApply) {
        t.till.set_request_timeout(HANG_TIMEOUT);
    }
    let sims = t.till.simulators().unwrap();
    let board = match scenario {
        Scenario::PesaVoucher => &sims.pesavoucher.faults,
        Scenario::TelesendClaimed | Scenario::TelesendAnonymous => &sims.telesend.faults,
        Scenario::GiftPesa => &sims.giftpesa.faults,
        Scenario::PesapalSubmit | Scenario::PesapalStatus => &sims.pesapal.faults,
    };
    let endpoint = scenario.endpoint();

    // ---- the faulted call ----
    let seen = match scenario {
        Scenario::PesaVoucher => {
            board.inject(endpoint, fault.clone());
            seen(&t, t.till.redeem_voucher("Amina", ACTIVE).await)
        }
        Scenario::TelesendClaimed => {
            let claim = t.till.claim_gift("Amina", "TS-GIFT-1000", None).await.unwrap();
            let sms = claim.training_sms_code.unwrap();
            board.inject(endpoint, fault.clone());
            seen(&t, t.till.redeem_gift("Amina", "TS-GIFT-1000", Some(&sms)).await)
        }
        Scenario::TelesendAnonymous => {
            board.inject(endpoint, fault.clone());
            seen(&t, t.till.redeem_gift("Amina", "TS-ANON-500", None).await)
        }
        Scenario::GiftPesa => {
            board.inject(endpoint, fault.clone());
            seen(&t, t.till.redeem_giftpesa("Amina", &giftpesa_input()).await)
        }
        Scenario::PesapalSubmit => {
            board.inject(endpoint, fault.clone());
            match t.till.checkout_pesapal("Amina", &checkout_input()).await {
                Ok(started) => {
                    Seen { message: "Waiting for the customer to pay".into(), transaction_id: started.transaction_id }
                }
                Err(e) => {
                    assert_eq!(e.code(), "checkout_not_created", "{cell}: {e:?}");
                    Seen {
                        message: e.to_public().message,
                        transaction_id: t.till.ledger().recent(1).unwrap()[0].id.clone(),
                    }
                }
            }
        }
        Scenario::PesapalStatus => {
            let started = t.till.checkout_pesapal("Amina", &checkout_input()).await.unwrap();
            assert!(sims.pesapal.complete(&started.order_tracking_id));
            board.inject(endpoint, fault.clone());
            match t.till.pesapal_status("Amina", &started.transaction_id).await {
                Ok(s) => {
                    Seen { message: s.result.map(|r| r.message).unwrap_or(s.message), transaction_id: s.transaction_id }
                }
                Err(e) => Seen { message: e.to_public().message, transaction_id: started.transaction_id },
            }
        }
    };
    assert_plain(cell, &seen.message);
    let id = seen.transaction_id.clone();
    let state = |t: &TestTill| t.till.ledger().transaction(&id).unwrap().unwrap().state;
    assert_eq!(state(&t), expect.now, "{cell}: state after the call; message: {}", seen.message);
    match expect.now {
        Unknown => assert!(seen.message.contains("do NOT hand over"), "{cell}: {}", seen.message),
        Failed if scenario != Scenario::PesapalSubmit => {
            assert!(!seen.message.contains("hand over the goods"), "{cell}: {}", seen.message)
        }
        _ => {}
    }

    // ---- the audit log: the attempt and its outcome ----
    let events: Vec<String> = t.till.ledger().audit_trail(&id).unwrap().into_iter().map(|a| a.event).collect();
    assert!(events.iter().any(|e| e == "redeem_attempt"), "{cell}: no attempt row in {events:?}");
    let outcome_event = match (scenario, expect.now) {
        (Scenario::PesapalSubmit, Pending) => Some("checkout_opened"),
        (Scenario::PesapalStatus, Completed) => Some("checkout_outcome"),
        // The outcome comes with the next status query, checked below.
        (Scenario::PesapalStatus, _) => None,
        _ => Some("redeem_outcome"),
    };
    if let Some(outcome_event) = outcome_event {
        assert!(events.iter().any(|e| e == outcome_event), "{cell}: no {outcome_event} row in {events:?}");
    }
    // What the provider sent stays for the audit log, out of the message.
    if matches!(fault, Fault::HtmlErrorPage { .. }) && outcome_event == Some("redeem_outcome") {
        let trail = t.till.ledger().audit_trail(&id).unwrap();
        assert!(
            trail.iter().any(|a| a.event == "redeem_outcome" && a.details.contains("Bad Gateway</title>")),
            "{cell}: the provider's answer is not in the audit row"
        );
    }

    // ---- reconciliation ----
    board.clear();
    if scenario == Scenario::PesapalStatus {
        let status = t.till.pesapal_status("Amina", &id).await.unwrap();
        assert_plain(cell, &status.message);
    } else {
        t.till.recover("system").await.unwrap();
    }
    assert_eq!(state(&t), expect.settled, "{cell}: state after reconciliation");
    if scenario == Scenario::PesapalStatus {
        assert_eq!(audit_count(&t.till, "checkout_outcome"), 1, "{cell}: the payment is recorded once");
        assert_eq!(audit_count(&t.till, "receipt_printed"), 1, "{cell}: one receipt");
    }
    let trail: Vec<String> = t.till.ledger().audit_trail(&id).unwrap().into_iter().map(|a| a.event).collect();
    if expect.settled != Pending && expect.settled != Unknown {
        let outcome = ["redeem_outcome", "checkout_outcome", "reconciled"];
        assert!(trail.iter().any(|e| outcome.contains(&e.as_str())), "{cell}: no outcome row in {trail:?}");
    }

    // ---- a second try never redeems twice ----
    let received = || board.received().get(endpoint).copied().unwrap_or(0);
    let before = received();
    match (scenario, expect.settled) {
        // Unknown blocks the voucher (or phone) without asking the provider.
        (
            Scenario::PesaVoucher | Scenario::TelesendClaimed | Scenario::TelesendAnonymous | Scenario::GiftPesa,
            Unknown,
        ) => {
            let again = match scenario {
                Scenario::PesaVoucher => t.till.redeem_voucher("Amina", ACTIVE).await.map(|_| ()),
                Scenario::TelesendClaimed => {
                    t.till.redeem_gift("Amina", "TS-GIFT-1000", Some("123456")).await.map(|_| ())
                }
                Scenario::TelesendAnonymous => t.till.redeem_gift("Amina", "TS-ANON-500", None).await.map(|_| ()),
                _ => t.till.redeem_giftpesa("Amina", &giftpesa_input()).await.map(|_| ()),
            };
            let e = again.expect_err(cell);
            assert_eq!(e.code(), "in_flight", "{cell}: {e:?}");
            assert_plain(cell, &e.to_string());
            assert_eq!(received(), before, "{cell}: a blocked retry reached the provider");
        }
        // PesaVoucher redeems vouchers whole: completed blocks it here.
        (Scenario::PesaVoucher, Completed) => {
            let e = t.till.redeem_voucher("Amina", ACTIVE).await.expect_err(cell);
            assert_eq!(e.code(), "already_redeemed", "{cell}: {e:?}");
            assert_eq!(received(), before, "{cell}: a blocked retry reached the provider");
        }
        // Failed means nothing was charged: the retry goes through, once.
        (Scenario::PesaVoucher, Failed) => {
            let r = t.till.redeem_voucher("Amina", ACTIVE).await.unwrap();
            assert_eq!(r.state, "completed", "{cell}");
            assert_eq!(applied(&t, scenario), 1, "{cell}: the retry redeemed once");
            assert_audit_intact(cell, &t.till);
            return;
        }
        _ => {}
    }

    assert!(expect.applied <= 1);
    assert_eq!(applied(&t, scenario), expect.applied, "{cell}: what the provider applied");
    if scenario == Scenario::GiftPesa {
        let left = sims.giftpesa.balance(GIFTPESA_PHONE).unwrap().minor;
        assert_eq!(left, 100_000 - 10_000 * i64::from(expect.applied), "{cell}: the customer's balance");
    }
    assert_audit_intact(cell, &t.till);
}
