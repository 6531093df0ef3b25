//! The GiftPesa flow below the window: a till redemption by name, phone and
//! amount, checked before anything is written, guarded per phone, with lost
//! answers left for a manager.

mod support;

use kaunta_core::ledger::State;
use kaunta_core::redeem::giftpesa::GiftPesaInput;
use kaunta_core::training::Fault;
use support::till;

fn input(name: &str, phone: &str, amount: &str) -> GiftPesaInput {
    GiftPesaInput {
        name: name.into(),
        phone: phone.into(),
        amount: amount.into(),
        till: None,
        remarks: Some("Weekly shopping".into()),
        confirm_repeat: false,
    }
}

#[tokio::test]
async fn a_gift_balance_is_redeemed_at_the_till_with_a_receipt() {
    let t = till().await;
    let r = t.till.redeem_giftpesa("Amina", &input("Jane Doe", "0720123456", "1000")).await.unwrap();
    assert_eq!(r.state, "completed");
    assert_eq!(r.provider, "giftpesa");
    assert_eq!(r.message, "KES 1,000.00 redeemed: hand over the goods");
    assert!(!r.provider_reference.as_deref().unwrap().is_empty(), "GiftPesa's ReceiptNo");
    assert_eq!(r.code_masked, "2547•••••456");
    assert!(r.receipt.is_some());
    let row = t.till.ledger().transaction(&r.transaction_id).unwrap().unwrap();
    assert_eq!(row.customer_name.as_deref(), Some("Jane Doe"));
    assert!(row.outcome_message.unwrap().contains("Naivas"));
    // The till's transaction id went to GiftPesa as TransactionID, once.
    assert_eq!(t.till.simulators().unwrap().giftpesa.redemption_counts().get(&r.transaction_id), Some(&1));
    let conn = rusqlite::Connection::open(t.till.ledger().path()).unwrap();
    let leaks: i64 = conn
        .query_row("SELECT COUNT(*) FROM audit_log WHERE subject LIKE '%720123%' OR details LIKE '%720123%'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(leaks, 0, "the audit log keeps phones masked");
}

#[tokio::test]
async fn bad_input_is_refused_before_anything_is_written() {
    let t = till().await;
    for (i, code) in [
        (input("", "0720123456", "100"), "invalid_name"),
        (input("Jane\u{7}", "0720123456", "100"), "invalid_name"),
        (input("Jane Doe", "12345", "100"), "invalid_phone"),
        (input("Jane Doe", "+1 555 0100", "100"), "invalid_phone"),
        (input("Jane Doe", "0720123456", "100.50"), "invalid_amount"),
        (input("Jane Doe", "0720123456", "-3"), "invalid_amount"),
        (input("Jane Doe", "0720123456", "<b>1</b>"), "invalid_amount"),
        (GiftPesaInput { till: Some("12ab".into()), ..input("Jane Doe", "0720123456", "100") }, "invalid_phone"),
        (GiftPesaInput { remarks: Some("x".repeat(101)), ..input("Jane Doe", "0720123456", "100") }, "invalid_remarks"),
    ] {
        let e = t.till.redeem_giftpesa("Amina", &i).await.unwrap_err();
        assert_eq!(e.code(), code, "{i:?}");
    }
    assert!(t.till.ledger().recent(10).unwrap().is_empty());
    assert_eq!(t.till.ledger().verify_audit(|_| {}).unwrap().rows, 0);
}

#[tokio::test]
async fn a_declined_redemption_is_failed_in_plain_words() {
    let t = till().await;
    let e = t.till.redeem_giftpesa("Amina", &input("John Doe", "0722000050", "60")).await.unwrap_err();
    assert!(e.is_declined(), "{e:?}");
    assert_eq!(t.till.ledger().recent(1).unwrap()[0].state, State::Failed);
    let other_till = GiftPesaInput { till: Some("403403".into()), ..input("Jane Doe", "0720123456", "10") };
    let e = t.till.redeem_giftpesa("Amina", &other_till).await.unwrap_err();
    assert_eq!(e.code(), "forbidden", "{e}");
}

#[tokio::test]
async fn a_lost_answer_blocks_that_phone_until_a_manager_resolves_it() {
    let t = till().await;
    t.till.simulators().unwrap().giftpesa.faults.inject("redeem", Fault::DropAfterApply);
    let r = t.till.redeem_giftpesa("Amina", &input("Jane Doe", "0720123456", "100")).await.unwrap();
    assert_eq!(r.state, "unknown");
    assert!(t.till.recover("system").await.unwrap().is_empty(), "GiftPesa cannot be asked about a redemption");
    let e = t.till.redeem_giftpesa("Amina", &input("Jane Doe", "+254720123456", "100")).await.unwrap_err();
    assert_eq!(e.code(), "in_flight");
    t.till.resolve("Manager Njeri", &r.transaction_id, State::Failed, "GiftPesa support: not processed").await.unwrap();
    t.till.redeem_giftpesa("Amina", &input("Jane Doe", "+254720123456", "100")).await.unwrap();
}
