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
//!
//! BitPesa payouts have four faulted endpoints: creating the transaction,
//! funding it (`accounts/debits`, where money moves), reading its status
//! and cancelling it. Their invariant is "never paid twice": the simulator
//! counts the debits that funded our `external_id`, at most one, and the
//! till asks for the debit at most once. A lost create answer is looked up
//! by `external_id`; a lost funding answer is settled by reading the
//! transaction; `recover` cancels what was created but never funded.
//!
//! `hang_*` cells are the client's own timeout firing (the request timeout
//! is shortened to `HANG_TIMEOUT`); `rate_limited` cells prove a 429 is
//! never answered by an immediate second request.

mod support;

use std::time::Duration;

use kaunta_core::FlowError;
use kaunta_core::ledger::State;
use kaunta_core::redeem::RedemptionResult;
use kaunta_core::redeem::giftpesa::GiftPesaInput;
use kaunta_core::redeem::payout::{PayoutInput, PayoutView};
use kaunta_core::redeem::pesapal::CheckoutInput;
use kaunta_core::staff::{Role, Staff};
use kaunta_core::training::Fault;
use kaunta_core::training::faults::FaultBoard;
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
    /// POST /v1/transactions of a KES 1,500 payout to M-Pesa.
    BitPesaCreate,
    /// POST /v1/accounts/debits funding it: money moves.
    BitPesaFund,
    /// GET /v1/transactions/{id}, the first status read after funding.
    BitPesaStatus,
    /// DELETE /v1/recipients/{id} of a funded payout whose recipient failed.
    BitPesaCancel,
}

impl Scenario {
    fn endpoint(self) -> &'static str {
        match self {
            Scenario::PesaVoucher => "redeem_voucher",
            Scenario::TelesendClaimed | Scenario::TelesendAnonymous => "redeem-gift",
            Scenario::GiftPesa => "redeem",
            Scenario::PesapalSubmit => "SubmitOrderRequest",
            Scenario::PesapalStatus => "GetTransactionStatus",
            Scenario::BitPesaCreate => "create_transaction",
            Scenario::BitPesaFund => "debits",
            Scenario::BitPesaStatus => "transaction",
            Scenario::BitPesaCancel => "cancel",
        }
    }

    fn board(self, t: &TestTill) -> &FaultBoard {
        let sims = t.till.simulators().unwrap();
        match self {
            Scenario::PesaVoucher => &sims.pesavoucher.faults,
            Scenario::TelesendClaimed | Scenario::TelesendAnonymous => &sims.telesend.faults,
            Scenario::GiftPesa => &sims.giftpesa.faults,
            Scenario::PesapalSubmit | Scenario::PesapalStatus => &sims.pesapal.faults,
            Scenario::BitPesaCreate | Scenario::BitPesaFund | Scenario::BitPesaStatus | Scenario::BitPesaCancel => {
                &sims.bitpesa.faults
            }
        }
    }

    fn is_payout(self) -> bool {
        matches!(
            self,
            Scenario::BitPesaCreate | Scenario::BitPesaFund | Scenario::BitPesaStatus | Scenario::BitPesaCancel
        )
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
    /// Redemptions (orders, payments recorded, payouts funded) the provider applied.
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
    bitpesa_create_transaction: Scenario::BitPesaCreate => {
        // Funded and followed: the payout pays out once.
        latency: LATENCY => expect(Pending, Completed, 1),
        // Only a 422 proves nothing was created: the lost answer is looked
        // up by external_id, not found, and `recover` fails it.
        status_500: Fault::Status { status: 500 } => expect(Unknown, Failed, 0),
        status_502: Fault::Status { status: 502 } => expect(Unknown, Failed, 0),
        status_503: Fault::Status { status: 503 } => expect(Unknown, Failed, 0),
        rate_limited: Fault::RateLimited { retry_after: 1 } => expect(Unknown, Failed, 0),
        // Created although the answer was lost: found by external_id, funded once.
        status_after_apply_500: Fault::StatusAfterApply { status: 500 } => expect(Pending, Completed, 1),
        malformed_json: Fault::MalformedJson => expect(Pending, Completed, 1),
        html_error_page: Fault::HtmlErrorPage { status: 502 } => expect(Unknown, Failed, 0),
        drop_before_apply: Fault::DropBeforeApply => expect(Unknown, Failed, 0),
        drop_after_apply: Fault::DropAfterApply => expect(Pending, Completed, 1),
        hang_before_apply: Fault::HangBeforeApply => expect(Unknown, Failed, 0),
        hang_after_apply: Fault::HangAfterApply => expect(Pending, Completed, 1),
    }
    bitpesa_fund: Scenario::BitPesaFund => {
        latency: LATENCY => expect(Pending, Completed, 1),
        // A lost funding answer is settled by reading the transaction: not
        // funded yet, but the debit could still land, so unknown; `recover`
        // cancels it so it never can.
        status_500: Fault::Status { status: 500 } => expect(Unknown, Failed, 0),
        status_502: Fault::Status { status: 502 } => expect(Unknown, Failed, 0),
        status_503: Fault::Status { status: 503 } => expect(Unknown, Failed, 0),
        // BitPesa answered and shows nothing paid in: cancelled at once.
        rate_limited: Fault::RateLimited { retry_after: 1 } => expect(Failed, Failed, 0),
        // The debit landed: the read shows it funded, followed to paid.
        status_after_apply_500: Fault::StatusAfterApply { status: 500 } => expect(Pending, Completed, 1),
        malformed_json: Fault::MalformedJson => expect(Pending, Completed, 1),
        html_error_page: Fault::HtmlErrorPage { status: 502 } => expect(Unknown, Failed, 0),
        drop_before_apply: Fault::DropBeforeApply => expect(Unknown, Failed, 0),
        drop_after_apply: Fault::DropAfterApply => expect(Pending, Completed, 1),
        hang_before_apply: Fault::HangBeforeApply => expect(Unknown, Failed, 0),
        hang_after_apply: Fault::HangAfterApply => expect(Pending, Completed, 1),
    }
    bitpesa_transaction_status: Scenario::BitPesaStatus => {
        // Funded either way; an unread status leaves it pending, never
        // failed, and the next reads follow it to paid.
        latency: LATENCY => expect(Pending, Completed, 1),
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
    bitpesa_cancel: Scenario::BitPesaCancel => {
        // A failed payout stays pending until BitPesa refunds it; a lost
        // cancel answer changes nothing in the ledger, the manager cancels
        // again, and the balance is refunded once.
        latency: LATENCY => expect(Pending, Failed, 1),
        status_500: Fault::Status { status: 500 } => expect(Pending, Failed, 1),
        status_502: Fault::Status { status: 502 } => expect(Pending, Failed, 1),
        status_503: Fault::Status { status: 503 } => expect(Pending, Failed, 1),
        rate_limited: Fault::RateLimited { retry_after: 1 } => expect(Pending, Failed, 1),
        status_after_apply_500: Fault::StatusAfterApply { status: 500 } => expect(Pending, Failed, 1),
        malformed_json: Fault::MalformedJson => expect(Pending, Failed, 1),
        html_error_page: Fault::HtmlErrorPage { status: 502 } => expect(Pending, Failed, 1),
        drop_before_apply: Fault::DropBeforeApply => expect(Pending, Failed, 1),
        drop_after_apply: Fault::DropAfterApply => expect(Pending, Failed, 1),
        hang_before_apply: Fault::HangBeforeApply => expect(Pending, Failed, 1),
        hang_after_apply: Fault::HangAfterApply => expect(Pending, Failed, 1),
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
        confirm_repeat: false,
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
        // Debits that funded the payout, keyed by our transaction id.
        _ => sims.bitpesa.transactions().iter().map(|t| t.debits).sum(),
    }
}

async fn run(cell: &str, scenario: Scenario, fault: Fault, expect: Expect) {
    let t = support::till().await;
    if matches!(fault, Fault::HangAfterApply | Fault::HangBeforeApply) {
        t.till.set_request_timeout(HANG_TIMEOUT);
    }
    if scenario.is_payout() {
        return run_payout(cell, &t, scenario, fault, expect).await;
    }
    let sims = t.till.simulators().unwrap();
    let board = scenario.board(&t);
    let endpoint = scenario.endpoint();
    // Requests the endpoint had received when the fault was queued.
    let armed_at = std::cell::Cell::new(0);
    let arm = || {
        armed_at.set(received(board, endpoint));
        board.inject(endpoint, fault.clone());
    };

    // ---- the faulted call ----
    let seen = match scenario {
        Scenario::PesaVoucher => {
            arm();
            seen(&t, t.till.redeem_voucher("Amina", ACTIVE).await)
        }
        Scenario::TelesendClaimed => {
            let claim = t.till.claim_gift("Amina", "TS-GIFT-1000", None).await.unwrap();
            let sms = claim.training_sms_code.unwrap();
            arm();
            seen(&t, t.till.redeem_gift("Amina", "TS-GIFT-1000", Some(&sms)).await)
        }
        Scenario::TelesendAnonymous => {
            arm();
            seen(&t, t.till.redeem_gift("Amina", "TS-ANON-500", None).await)
        }
        Scenario::GiftPesa => {
            arm();
            seen(&t, t.till.redeem_giftpesa("Amina", &giftpesa_input()).await)
        }
        Scenario::PesapalSubmit => {
            arm();
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
            arm();
            match t.till.pesapal_status("Amina", &started.transaction_id).await {
                Ok(s) => {
                    Seen { message: s.result.map(|r| r.message).unwrap_or(s.message), transaction_id: s.transaction_id }
                }
                Err(e) => Seen { message: e.to_public().message, transaction_id: started.transaction_id },
            }
        }
        _ => unreachable!("payouts run in run_payout"),
    };
    assert_plain(cell, &seen.message);
    assert_no_hammering(cell, board, endpoint, &fault, armed_at.get());
    assert_says_try_again(cell, scenario, &fault, &seen.message);
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
    let received = || received(board, endpoint);
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

fn received(board: &FaultBoard, endpoint: &str) -> u64 {
    board.received().get(endpoint).copied().unwrap_or(0)
}

/// A 429 is answered by waiting: the faulted request is the endpoint's last.
/// (Every client sends money-moving requests once; a retry honouring
/// Retry-After would come after a pause, never as a burst.)
fn assert_no_hammering(cell: &str, board: &FaultBoard, endpoint: &str, fault: &Fault, armed_at: u64) {
    if matches!(fault, Fault::RateLimited { .. }) {
        assert_eq!(received(board, endpoint), armed_at + 1, "{cell}: a 429 was answered by another request at once");
    }
}

/// A 429 tells the cashier to try again later, not that the voucher is bad.
/// (A Pesapal status query is retried by the next poll: nothing to say.)
fn assert_says_try_again(cell: &str, scenario: Scenario, fault: &Fault, message: &str) {
    if matches!(fault, Fault::RateLimited { .. }) && scenario != Scenario::PesapalStatus {
        assert!(message.to_lowercase().contains("again"), "{cell}: {message}");
    }
}

fn manager() -> Staff {
    Staff { name: "Njeri".into(), role: Role::Manager }
}

/// A KES 1,500 refund to M-Pesa; a number ending 19 fails at the provider.
fn payout_input(phone: &str) -> PayoutInput {
    let recipient = [("first_name", "Amina"), ("last_name", "Wanjiru"), ("phone_number", phone)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    PayoutInput {
        corridor: "KES::Mobile".into(),
        amount: "1,500".into(),
        recipient,
        reason: "Refund of order 123".into(),
    }
}

const PAYOUT_MINOR: i64 = 150_000;

/// Follows a payout until it is final (or ten seconds have passed).
async fn follow(t: &TestTill, id: &str) -> PayoutView {
    t.till.follow_payout("Njeri", id, Duration::from_secs(10)).await.unwrap()
}

async fn run_payout(cell: &str, t: &TestTill, scenario: Scenario, fault: Fault, expect: Expect) {
    use kaunta_core::money::Currency;
    let sim = t.till.simulators().unwrap().bitpesa.clone();
    let board = &sim.faults;
    let endpoint = scenario.endpoint();
    let opening = sim.balance(Currency::KES).unwrap().minor;

    // ---- the faulted call ----
    let (message, id) = if scenario == Scenario::BitPesaCancel {
        let started = t.till.start_payout(&manager(), &payout_input("0712 345 619")).await.unwrap();
        let id = started.transaction_id.clone();
        // The payout fails at the provider: BitPesa keeps it until cancelled.
        assert!(sim.advance(&id), "{cell}");
        let failed = t.till.refresh_payout(&manager(), &id).await.unwrap();
        assert!(failed.may_cancel, "{cell}: {failed:?}");
        let armed_at = received(board, endpoint);
        board.inject(endpoint, fault.clone());
        let message = match t.till.cancel_payout(&manager(), &id).await {
            Ok(view) => view.message,
            Err(e) => e.to_public().message,
        };
        assert_no_hammering(cell, board, endpoint, &fault, armed_at);
        (message, id)
    } else {
        let armed_at = received(board, endpoint);
        board.inject(endpoint, fault.clone());
        let answer = t.till.start_payout(&manager(), &payout_input("0712 345 678")).await;
        assert_no_hammering(cell, board, endpoint, &fault, armed_at);
        match answer {
            Ok(view) => (view.message, view.transaction_id),
            Err(e) => (e.to_public().message, t.till.ledger().recent(1).unwrap()[0].id.clone()),
        }
    };
    assert_plain(cell, &message);
    assert_says_try_again(cell, scenario, &fault, &message);
    let state = |t: &TestTill| t.till.ledger().transaction(&id).unwrap().unwrap().state;
    assert_eq!(state(t), expect.now, "{cell}: state after the call; message: {message}");
    if expect.now == Unknown {
        assert!(message.contains("do not pay this again"), "{cell}: {message}");
    }
    // The till asked for the debit at most once, whatever happened.
    assert!(received(board, "debits") <= 1, "{cell}: funding was requested twice");

    // ---- the audit log: the attempt and what followed ----
    let events: Vec<String> = t.till.ledger().audit_trail(&id).unwrap().into_iter().map(|a| a.event).collect();
    assert!(events.iter().any(|e| e == "redeem_attempt"), "{cell}: no attempt row in {events:?}");
    let step_event = match (scenario, expect.now) {
        (Scenario::BitPesaCancel, _) => "payout_cancel_requested",
        (_, Unknown | Failed) => "payout_outcome",
        _ => "payout_funded",
    };
    assert!(events.iter().any(|e| e == step_event), "{cell}: no {step_event} row in {events:?}");
    // What BitPesa sent stays for the audit log, out of the message.
    if matches!(fault, Fault::HtmlErrorPage { .. } | Fault::RateLimited { .. }) && scenario != Scenario::BitPesaStatus {
        let trail = t.till.ledger().audit_trail(&id).unwrap();
        let sent = if matches!(fault, Fault::RateLimited { .. }) { "Too many requests" } else { "Bad Gateway</title>" };
        assert!(trail.iter().any(|a| a.details.contains(sent)), "{cell}: BitPesa's answer is not in the audit log");
    }

    // ---- reconciliation: `recover`, then the manager follows (or cancels again) ----
    board.clear();
    t.till.recover("system").await.unwrap();
    if scenario == Scenario::BitPesaCancel && state(t) == Pending {
        let view = t.till.cancel_payout(&manager(), &id).await.unwrap();
        assert_plain(cell, &view.message);
    }
    if state(t) == Pending {
        let view = follow(t, &id).await;
        assert_plain(cell, &view.message);
    }
    assert_eq!(state(t), expect.settled, "{cell}: state after reconciliation");
    let trail: Vec<String> = t.till.ledger().audit_trail(&id).unwrap().into_iter().map(|a| a.event).collect();
    assert!(trail.iter().any(|e| e == "payout_outcome"), "{cell}: no outcome row in {trail:?}");

    // ---- never paid twice ----
    assert!(expect.applied <= 1);
    assert_eq!(sim.debits_for(&id), expect.applied, "{cell}: debits that funded this payout");
    assert!(received(board, "debits") <= 1, "{cell}: funding was requested twice");
    let spent = if expect.settled == Completed { PAYOUT_MINOR } else { 0 };
    assert_eq!(sim.balance(Currency::KES).unwrap().minor, opening - spent, "{cell}: the store's balance");
    if expect.settled == Completed {
        assert_eq!(audit_count(&t.till, "receipt_printed"), 1, "{cell}: one remittance slip");
    }
    assert_audit_intact(cell, &t.till);
}
