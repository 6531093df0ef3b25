//! The Telesend flow below the window: claims in the ledger, partial and
//! anonymous redemptions, wrong codes, lost answers resolved by a manager.

mod support;

use kaunta_core::ledger::State;
use kaunta_core::training::Fault;
use support::till;

#[tokio::test]
async fn claim_verify_and_redeem_part_of_a_gift() {
    let t = till().await;
    let claim = t.till.claim_gift("Amina", "ts-gift-2500", Some("600")).await.unwrap();
    assert_eq!(claim.amount.as_ref().unwrap().display, "ETB 600.00");
    let sms = claim.training_sms_code.clone().expect("training mode shows the SMS code");

    // A wrong code is refused, recorded, and can be retyped without a new claim.
    let wrong = if sms == "000000" { "111111" } else { "000000" };
    let e = t.till.redeem_gift("Amina", "TS-GIFT-2500", Some(wrong)).await.unwrap_err();
    assert_eq!(e.code(), "wrong_verification_code");
    let r = t.till.redeem_gift("Amina", "TS-GIFT-2500", Some(&sms)).await.unwrap();
    assert_eq!(r.state, "completed");
    assert_eq!(r.message, "ETB 600.00 redeemed: hand over the goods");
    assert!(r.provider_reference.as_deref().unwrap().starts_with("TB"));
    assert!(r.receipt.is_some());
    assert_eq!(t.till.simulators().unwrap().telesend.remaining_minor("TS-GIFT-2500"), Some(190_000));

    let events: Vec<String> = {
        let conn = rusqlite::Connection::open(t.till.ledger().path()).unwrap();
        let mut stmt = conn.prepare("SELECT event || ':' || outcome FROM audit_log ORDER BY seq").unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    };
    assert_eq!(
        events,
        [
            "claim_requested:info",
            "claim_sent:success",
            // The first transaction of the day opens the till's shift.
            "shift_opened:info",
            "redeem_attempt:info",
            "redeem_outcome:failure",
            "redeem_attempt:info",
            "redeem_outcome:success",
            "claim_redeemed:info",
            "receipt_printed:success"
        ]
    );

    // The rest of the voucher can be claimed again: partial redemptions do not block it.
    let again = t.till.claim_gift("Amina", "TS-GIFT-2500", None).await.unwrap();
    assert!(again.amount.is_none());
}

#[tokio::test]
async fn an_anonymous_voucher_needs_no_claim() {
    let t = till().await;
    let r = t.till.redeem_gift("Amina", "TS-ANON-500", None).await.unwrap();
    assert_eq!(r.state, "completed");
    assert!(r.message.contains("ETB 500.00"), "{}", r.message);
    let e = t.till.redeem_gift("Amina", "TS-ANON-500", None).await.unwrap_err();
    assert_eq!(e.code(), "already_redeemed");
}

#[tokio::test]
async fn a_voucher_that_needs_a_code_says_so() {
    let t = till().await;
    let e = t.till.redeem_gift("Amina", "TS-GIFT-1000", None).await.unwrap_err();
    assert_eq!(e.code(), "verification_code_missing");
    assert!(e.to_string().contains("SMS code"));
}

#[tokio::test]
async fn bad_amounts_and_codes_write_nothing() {
    let t = till().await;
    for amount in ["-5", "0", "abc", "1e9", "12.345", "99999999999999999999"] {
        let e = t.till.claim_gift("Amina", "TS-GIFT-1000", Some(amount)).await.unwrap_err();
        assert_eq!(e.code(), "invalid_amount", "{amount}");
    }
    let e = t.till.redeem_gift("Amina", "TS-GIFT-1000", Some("12<script>")).await.unwrap_err();
    assert_eq!(e.code(), "invalid_verification_code");
    assert_eq!(t.till.ledger().verify_audit(|_| {}).unwrap().rows, 0);
}

#[tokio::test]
async fn a_restricted_voucher_is_explained() {
    let t = till().await;
    let claim = t.till.claim_gift("Amina", "TS-RESTRICT-1", None).await.unwrap();
    let e = t.till.redeem_gift("Amina", "TS-RESTRICT-1", claim.training_sms_code.as_deref()).await.unwrap_err();
    assert_eq!(e.code(), "restricted");
    assert!(e.to_string().contains("only be used at the shop it was bought for"));
}

#[tokio::test]
async fn a_lost_answer_is_unknown_until_a_manager_resolves_it() {
    let t = till().await;
    t.till.simulators().unwrap().telesend.faults.inject("redeem-gift", Fault::DropAfterApply);
    let r = t.till.redeem_gift("Amina", "TS-ANON-500", None).await.unwrap();
    assert_eq!(r.state, "unknown");
    // Telesend has no status query: recovery leaves it for a manager, and it blocks the voucher.
    assert!(t.till.recover("system").await.unwrap().is_empty());
    assert_eq!(t.till.redeem_gift("Amina", "TS-ANON-500", None).await.unwrap_err().code(), "in_flight");
    assert_eq!(t.till.claim_gift("Amina", "TS-ANON-500", None).await.unwrap_err().code(), "in_flight");

    let e = t.till.resolve("Manager Njeri", &r.transaction_id, State::Completed, "  ").await.unwrap_err();
    assert_eq!(e.code(), "invalid_resolution");
    let row = t
        .till
        .resolve("Manager Njeri", &r.transaction_id, State::Completed, "Telesend portal shows TB ref paid")
        .await
        .unwrap();
    assert_eq!(row.state, State::Completed);
    let again = t.till.resolve("Manager Njeri", &r.transaction_id, State::Failed, "oops").await.unwrap_err();
    assert_eq!(again.code(), "not_unknown");
}

#[tokio::test]
async fn two_tills_cannot_claim_one_voucher() {
    let dir = tempfile::tempdir().unwrap();
    support::write_config(dir.path(), |c| c.till_id = "TILL-1".into());
    let till1 = kaunta_core::Till::open(dir.path(), support::options()).await.unwrap();
    support::write_config(dir.path(), |c| c.till_id = "TILL-2".into());
    let till2 = kaunta_core::Till::open(dir.path(), support::options()).await.unwrap();
    till1.claim_gift("Amina", "TS-GIFT-1000", None).await.unwrap();
    let e = till2.claim_gift("Baraka", "TS-GIFT-1000", None).await.unwrap_err();
    assert_eq!(e.code(), "claimed_elsewhere");
    assert!(e.to_string().contains("TILL-1"));
    assert!(till1.cancel_claim("Amina", "TS-GIFT-1000").await.unwrap());
    till2.claim_gift("Baraka", "TS-GIFT-1000", None).await.unwrap();
}
