//! The Telesend client against the simulator: the document's payloads and
//! every documented error message.

use std::time::Duration;

use kaunta_core::money::{Currency, Money};
use kaunta_core::providers::ProviderId;
use kaunta_core::providers::telesend::{Client, Credentials, TelesendError};
use kaunta_core::training::{Fault, Simulators, TRAINING_API_TOKEN};
use kaunta_core::voucher_code::VoucherCode;

async fn setup() -> (Simulators, Client) {
    let sims = Simulators::start(0).await.unwrap();
    let creds = Credentials { api_token: TRAINING_API_TOKEN.into() };
    let client = Client::with_timeout(sims.base_url(ProviderId::Telesend), creds, Duration::from_secs(2));
    (sims, client)
}

fn code(s: &str) -> VoucherCode {
    VoucherCode::parse(s).unwrap()
}

fn etb(minor: i64) -> Money {
    Money::new(minor, Currency::ETB)
}

fn declined(e: TelesendError) -> (&'static str, u16) {
    match e {
        TelesendError::Declined { reason, status, .. } => (reason.code(), status),
        other => panic!("expected a decline, got {other:?}"),
    }
}

#[tokio::test]
async fn claim_then_redeem_with_the_sms_code_pays_the_merchant() {
    let (sims, client) = setup().await;
    let c = code("TS-GIFT-1000");
    let message = client.initiate_claim(&c, None).await.unwrap();
    assert_eq!(message, "Voucher code has been sent to user Successfully");
    let sms = sims.telesend.sms_code("TS-GIFT-1000").unwrap();
    let r = client.redeem_gift(&c, Some(&sms), Some(1)).await.unwrap();
    assert!(r.reference_number.starts_with("TB"));
    assert_eq!(sims.telesend.remaining_minor("TS-GIFT-1000"), Some(0));
    assert_eq!(declined(client.initiate_claim(&c, None).await.unwrap_err()), ("already_redeemed", 404));
}

#[tokio::test]
async fn a_partial_claim_leaves_the_rest_on_the_voucher() {
    let (sims, client) = setup().await;
    let c = code("TS-GIFT-2500");
    client.initiate_claim(&c, Some(etb(60_000))).await.unwrap();
    let sms = sims.telesend.sms_code("TS-GIFT-2500").unwrap();
    client.redeem_gift(&c, Some(&sms), None).await.unwrap();
    assert_eq!(sims.telesend.remaining_minor("TS-GIFT-2500"), Some(190_000));
    let too_much = client.initiate_claim(&c, Some(etb(200_000))).await.unwrap_err();
    assert_eq!(declined(too_much), ("amount_above_remaining", 403));
}

#[tokio::test]
async fn every_documented_redeem_error_comes_back_typed() {
    let (sims, client) = setup().await;
    let c = code("TS-GIFT-1000");
    assert_eq!(declined(client.redeem_gift(&c, None, None).await.unwrap_err()), ("verification_code_missing", 403));
    assert_eq!(declined(client.redeem_gift(&c, Some("123456"), None).await.unwrap_err()), ("no_claim_started", 403));
    client.initiate_claim(&c, None).await.unwrap();
    let sms = sims.telesend.sms_code("TS-GIFT-1000").unwrap();
    let wrong = if sms == "000000" { "111111" } else { "000000" };
    assert_eq!(
        declined(client.redeem_gift(&c, Some(wrong), None).await.unwrap_err()),
        ("wrong_verification_code", 403)
    );
    assert_eq!(declined(client.redeem_gift(&c, Some(&sms), Some(9)).await.unwrap_err()), ("no_such_merchant", 404));

    let expired = code("TS-EXPIRED-1");
    client.initiate_claim(&expired, None).await.unwrap();
    let sms = sims.telesend.sms_code("TS-EXPIRED-1").unwrap();
    assert_eq!(declined(client.redeem_gift(&expired, Some(&sms), None).await.unwrap_err()), ("expired", 403));

    let restricted = code("TS-RESTRICT-1");
    client.initiate_claim(&restricted, None).await.unwrap();
    let sms = sims.telesend.sms_code("TS-RESTRICT-1").unwrap();
    assert_eq!(declined(client.redeem_gift(&restricted, Some(&sms), Some(1)).await.unwrap_err()), ("restricted", 403));

    let telebirr = code("TS-TELEBIRR-1");
    client.initiate_claim(&telebirr, None).await.unwrap();
    let sms = sims.telesend.sms_code("TS-TELEBIRR-1").unwrap();
    let e = client.redeem_gift(&telebirr, Some(&sms), None).await.unwrap_err();
    assert!(e.to_string().contains("Receiver account is locked"), "{e}");
    assert_eq!(declined(e), ("telebirr_error", 404));

    assert_eq!(
        declined(client.redeem_gift(&code("TS-REDEEMED-1"), None, None).await.unwrap_err()),
        ("already_redeemed", 404)
    );
    assert_eq!(declined(client.initiate_claim(&code("TS-NOPE-0000"), None).await.unwrap_err()), ("not_found", 404));
    assert!(sims.telesend.redemption_counts().is_empty());
}

#[tokio::test]
async fn anonymous_vouchers_redeem_without_a_claim() {
    let (sims, client) = setup().await;
    client.redeem_gift(&code("TS-ANON-500"), None, None).await.unwrap();
    assert_eq!(sims.telesend.redemption_counts().get("TS-ANON-500"), Some(&1));
}

#[tokio::test]
async fn denominations_are_in_birr() {
    let (_sims, client) = setup().await;
    let list = client.gift_denominations().await.unwrap();
    assert_eq!(list.len(), 5);
    assert_eq!(list[3].id, 7);
    assert_eq!(list[3].amount, etb(100_000));
    assert!(!list[4].active);
}

#[tokio::test]
async fn a_wrong_token_is_refused_in_plain_words() {
    let sims = Simulators::start(0).await.unwrap();
    let client = Client::new(sims.base_url(ProviderId::Telesend), Credentials { api_token: "nope".into() });
    let e = client.gift_denominations().await.unwrap_err();
    assert!(e.to_string().contains("API token"));
    assert_eq!(declined(e), ("authentication_failed", 401));
}

#[tokio::test]
async fn faults_on_redeem_gift_are_classified() {
    for (fault, unknown, applied) in [
        (Fault::Status { status: 500 }, true, false),
        (Fault::DropAfterApply, true, true),
        (Fault::MalformedJson, true, true),
        (Fault::HtmlErrorPage { status: 502 }, true, false),
        (Fault::RateLimited { retry_after: 1 }, false, false),
    ] {
        let (sims, client) = setup().await;
        sims.telesend.faults.inject("redeem-gift", fault.clone());
        let e = client.redeem_gift(&code("TS-ANON-500"), None, None).await.unwrap_err();
        assert_eq!(e.outcome_unknown(), unknown, "{fault:?}: {e:?}");
        assert_eq!(sims.telesend.redemption_counts().get("TS-ANON-500").copied().unwrap_or(0), applied as u32);
    }
}
