//! The redemption flow end to end below the window: ledger, audit chain,
//! receipts and the simulator, including lost answers and recovery.

mod support;

use kaunta_core::FlowError;
use kaunta_core::ledger::State;
use kaunta_core::training::Fault;
use support::{ACTIVE, till};

#[tokio::test]
async fn validate_then_redeem_records_everything_and_saves_a_receipt() {
    let t = till().await;
    let v = t.till.validate_voucher("Amina", ACTIVE).await.unwrap();
    assert!(v.valid);
    assert_eq!(v.amount.as_ref().unwrap().display, "KES 750.00");
    assert_eq!(v.customer_name.as_deref(), Some("Jane Doe"));
    assert_eq!(v.code_masked, "•••-••••••••••••NISE");

    let r = t.till.redeem_voucher("Amina", ACTIVE).await.unwrap();
    assert_eq!(r.state, "completed");
    assert_eq!(r.message, "KES 750.00 redeemed: hand over the goods");
    assert!(r.training);
    let receipt = r.receipt.unwrap();
    assert!(std::fs::read(&receipt.path).unwrap().starts_with(b"%PDF"));

    let row = t.till.ledger().transaction(&r.transaction_id).unwrap().unwrap();
    assert_eq!((row.state, row.amount_minor, row.cashier.as_str()), (State::Completed, Some(75_000), "Amina"));
    let trail: Vec<String> =
        t.till.ledger().audit_trail(&r.transaction_id).unwrap().into_iter().map(|a| a.event).collect();
    assert_eq!(trail, ["redeem_attempt", "redeem_outcome", "receipt_printed"]);
    let verified = t.till.ledger().verify_audit(|_| {}).unwrap();
    assert_eq!(verified.first_bad, None);
    // No audit row carries the full code.
    let conn = rusqlite::Connection::open(t.till.ledger().path()).unwrap();
    let leaks: i64 = conn
        .query_row("SELECT COUNT(*) FROM audit_log WHERE subject LIKE '%DTUM%' OR details LIKE '%DTUM%'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(leaks, 0);
}

#[tokio::test]
async fn redeeming_twice_is_refused_and_the_provider_sees_one_redemption() {
    let t = till().await;
    t.till.redeem_voucher("Amina", ACTIVE).await.unwrap();
    let again = t.till.redeem_voucher("Amina", ACTIVE).await.unwrap_err();
    assert_eq!(again.code(), "already_redeemed");
    assert!(again.to_string().contains("Do not hand over goods"));
    let sims = t.till.simulators().unwrap();
    assert_eq!(sims.pesavoucher.redemption_counts().get(ACTIVE), Some(&1));
}

#[tokio::test]
async fn a_double_click_redeems_once() {
    let t = till().await;
    let (a, b) = tokio::join!(t.till.redeem_voucher("Amina", ACTIVE), t.till.redeem_voucher("Amina", ACTIVE));
    let refused = match (a, b) {
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => e,
        other => panic!("exactly one redemption must succeed: {other:?}"),
    };
    assert!(["in_flight", "already_redeemed"].contains(&refused.code()), "{refused:?}");
    assert_eq!(t.till.simulators().unwrap().pesavoucher.redemption_counts().get(ACTIVE), Some(&1));
}

#[tokio::test]
async fn bad_input_writes_nothing() {
    let t = till().await;
    for bad in ["", "   ", "<script>alert(1)</script>", "NLV'; DROP TABLE transactions;--", &"A".repeat(1 << 20)] {
        let e = t.till.redeem_voucher("Amina", bad).await.unwrap_err();
        assert_eq!(e.code(), "invalid_code", "{e:?}");
        let e = t.till.validate_voucher("Amina", bad).await.unwrap_err();
        assert_eq!(e.code(), "invalid_code");
    }
    assert!(matches!(t.till.redeem_voucher("  ", ACTIVE).await, Err(FlowError::NoCashier)));
    assert!(t.till.ledger().recent(10).unwrap().is_empty());
    assert_eq!(t.till.ledger().verify_audit(|_| {}).unwrap().rows, 0);
}

#[tokio::test]
async fn a_declined_redemption_is_failed_with_the_reason() {
    let t = till().await;
    let e = t.till.redeem_voucher("Amina", "TRN-NOFUNDS-001").await.unwrap_err();
    assert_eq!(e.code(), "insufficient_wallet_balance");
    let rows = t.till.ledger().recent(10).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, State::Failed);
    // A failed attempt frees the code for another try.
    let e2 = t.till.redeem_voucher("Amina", "TRN-NOFUNDS-001").await.unwrap_err();
    assert_eq!(e2.code(), "insufficient_wallet_balance");
}

#[tokio::test]
async fn an_invalid_voucher_never_gets_an_intent() {
    let t = till().await;
    let e = t.till.redeem_voucher("Amina", "TRN-PLATFORM-01").await.unwrap_err();
    assert_eq!(e.code(), "platform_only");
    assert!(t.till.ledger().recent(10).unwrap().is_empty());
}

#[tokio::test]
async fn a_lost_answer_after_the_provider_redeemed_is_unknown_then_reconciled_as_completed() {
    let t = till().await;
    let sims = t.till.simulators().unwrap();
    sims.pesavoucher.faults.inject("redeem_voucher", Fault::DropAfterApply);
    let r = t.till.redeem_voucher("Amina", ACTIVE).await.unwrap();
    assert_eq!(r.state, "unknown");
    assert!(r.message.contains("do NOT hand over"));
    assert!(r.receipt.is_none());
    // Blocked while unknown.
    assert_eq!(t.till.redeem_voucher("Amina", ACTIVE).await.unwrap_err().code(), "in_flight");
    let settled = t.till.recover("system").await.unwrap();
    assert_eq!(settled.len(), 1);
    assert_eq!(settled[0].state, State::Completed);
    assert_eq!(sims.pesavoucher.redemption_counts().get(ACTIVE), Some(&1));
}

#[tokio::test]
async fn a_lost_request_is_unknown_then_reconciled_as_failed_and_can_be_retried() {
    let t = till().await;
    let sims = t.till.simulators().unwrap();
    sims.pesavoucher.faults.inject("redeem_voucher", Fault::Status { status: 500 });
    let r = t.till.redeem_voucher("Amina", ACTIVE).await.unwrap();
    assert_eq!(r.state, "unknown");
    let settled = t.till.recover("system").await.unwrap();
    assert_eq!(settled[0].state, State::Failed);
    let again = t.till.redeem_voucher("Amina", ACTIVE).await.unwrap();
    assert_eq!(again.state, "completed");
    assert_eq!(sims.pesavoucher.redemption_counts().get(ACTIVE), Some(&1));
}

#[tokio::test]
async fn an_unreachable_provider_is_a_plain_failure_and_nothing_is_charged() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let t = support::till_with(|c| {
        c.providers.insert(
            kaunta_core::providers::ProviderId::PesaVoucher,
            kaunta_core::config::ProviderConfig {
                base_url: Some(format!("http://127.0.0.1:{port}/api/v1")),
                ..Default::default()
            },
        );
    })
    .await;
    let e = t.till.validate_voucher("Amina", ACTIVE).await.unwrap_err();
    assert_eq!(e.code(), "provider_unreachable");
    assert!(e.to_string().contains("Nothing was charged"));
}
