//! The PesaVoucher client against the simulator, with the document's samples
//! and every documented message.

use std::time::Duration;

use kaunta_core::money::{Currency, Money};
use kaunta_core::providers::ProviderId;
use kaunta_core::providers::pesavoucher::{Client, Credentials, Decline, PesaVoucherError, Validation};
use kaunta_core::training::{Fault, Simulators, TRAINING_API_KEY, TRAINING_API_SECRET};
use kaunta_core::voucher_code::VoucherCode;

fn creds() -> Credentials {
    Credentials { api_key: TRAINING_API_KEY.into(), api_secret: TRAINING_API_SECRET.into() }
}

async fn setup() -> (Simulators, Client) {
    let sims = Simulators::start(0).await.unwrap();
    let client = Client::with_timeout(sims.base_url(ProviderId::PesaVoucher), creds(), Duration::from_secs(2));
    (sims, client)
}

fn code(s: &str) -> VoucherCode {
    VoucherCode::parse(s).unwrap()
}

#[tokio::test]
async fn the_documented_sample_validates_with_amount_and_customer() {
    let (_sims, client) = setup().await;
    match client.validate_voucher(&code("NLV-DTUMJQ6ILG9WNISE")).await.unwrap() {
        Validation::Valid(v) => {
            assert_eq!(v.amount, Money::new(75_000, Currency::KES));
            assert_eq!(v.customer_name.as_deref(), Some("Jane Doe"));
            assert_eq!(v.customer_email.as_deref(), Some("customer@example.com"));
            assert_eq!(v.status, "active");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn every_documented_validation_error_comes_back_typed() {
    let (_sims, client) = setup().await;
    let cases = [
        ("TRN-REDEEMED-01", "already_redeemed", "Voucher already redeemed on 2025-11-20 10:30:00"),
        ("NLV-NOSUCHCODE", "not_found", "Voucher not found or has been deleted"),
        ("TRN-DELETED-001", "not_found", "Voucher not found or has been deleted"),
        ("TRN-INACTIVE-01", "not_active", "Voucher is not active"),
        (
            "TRN-PLATFORM-01",
            "platform_only",
            "Voucher is only redeemable at PesaVoucher platform, not at merchant locations",
        ),
        ("TRN-OTHERSHOP-1", "other_merchant", "Voucher does not belong to your merchant account"),
    ];
    for (c, expected, message) in cases {
        match client.validate_voucher(&code(c)).await.unwrap() {
            Validation::Invalid(reasons) => {
                assert_eq!(reasons.len(), 1);
                assert_eq!(reasons[0].0.code(), expected, "{c}");
                assert_eq!(reasons[0].1, message);
            }
            other => panic!("{c}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_redemption_succeeds_once_then_is_refused_as_already_redeemed() {
    let (sims, client) = setup().await;
    let c = code("TRN-ACTIVE-1200");
    let r = client.redeem_voucher(&c, "amina", "txn-1").await.unwrap();
    assert_eq!(r.amount, Money::new(120_050, Currency::KES));
    assert_eq!(r.redeemed_by.as_deref(), Some("amina"));
    assert_eq!(r.customer_name.as_deref(), Some("Wanjiru Kamau"));
    match client.redeem_voucher(&c, "amina", "txn-2").await {
        Err(PesaVoucherError::Declined { reason: Decline::AlreadyRedeemed { on: Some(_) }, status: 400, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(sims.pesavoucher.redemption_counts().get("TRN-ACTIVE-1200"), Some(&1));
}

#[tokio::test]
async fn every_documented_redeem_error_comes_back_typed() {
    let (_sims, client) = setup().await;
    let cases = [
        ("NLV-NOSUCHCODE", "not_found", 404),
        ("TRN-DELETED-001", "deleted", 404),
        ("TRN-INACTIVE-01", "not_active", 400),
        ("TRN-PLATFORM-01", "platform_only", 403),
        ("TRN-OTHERSHOP-1", "not_found", 403),
        ("TRN-REDEEMED-01", "already_redeemed", 400),
        ("TRN-NOFUNDS-001", "insufficient_wallet_balance", 400),
    ];
    for (c, expected, expected_status) in cases {
        match client.redeem_voucher(&code(c), "amina", "txn").await {
            Err(PesaVoucherError::Declined { reason, status, .. }) => {
                assert_eq!((reason.code(), status), (expected, expected_status), "{c}");
            }
            other => panic!("{c}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn wrong_credentials_are_an_authentication_failure() {
    let sims = Simulators::start(0).await.unwrap();
    let bad = Credentials { api_key: TRAINING_API_KEY.into(), api_secret: "wrong".into() };
    let client = Client::new(sims.base_url(ProviderId::PesaVoucher), bad);
    match client.validate_voucher(&code("TRN-ACTIVE-1200")).await {
        Err(e @ PesaVoucherError::Declined { reason: Decline::AuthenticationFailed, status: 401, .. }) => {
            assert!(e.to_string().contains("credentials"));
            assert!(!e.to_string().contains("wrong"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn create_voucher_matches_the_documented_sample_and_errors() {
    let (_sims, client) = setup().await;
    let kes = |minor| Money::new(minor, Currency::KES);
    let created = client
        .create_voucher(
            "customer@example.com",
            kes(75_000),
            "7373737",
            Some("Your withdrawal request has been approved!"),
        )
        .await
        .unwrap();
    assert!(created.voucher_code.starts_with("TEST-NLV-"));
    assert_eq!(created.amount, kes(75_000));
    assert_eq!(created.unique_id.as_deref(), Some("7373737"));
    assert!(created.transaction_id.is_some());
    for (email, minor, expected) in [
        ("customer@example.com", 4_999, "below_minimum"),
        ("customer@example.com", 15_000_001, "above_maximum"),
        ("nobody@unknown.example", 10_000, "user_not_found"),
        ("customer@example.com", 12_000_000, "insufficient_merchant_balance"),
    ] {
        match client.create_voucher(email, kes(minor), "x", None).await {
            Err(PesaVoucherError::Declined { reason, .. }) => assert_eq!(reason.code(), expected),
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn a_closed_port_is_unreachable_not_unknown() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = Client::new(url::Url::parse(&format!("http://127.0.0.1:{port}/api/v1")).unwrap(), creds());
    let e = client.redeem_voucher(&code("TRN-ACTIVE-1200"), "amina", "t").await.unwrap_err();
    assert!(matches!(e, PesaVoucherError::Unreachable(_)), "{e:?}");
    assert!(!e.outcome_unknown());
}

/// Each fault, on redeem: whether the outcome is unknown, and whether the
/// provider really redeemed (so reconciliation has something true to find).
#[tokio::test]
async fn faults_on_redeem_are_classified_by_what_the_till_can_know() {
    let cases = [
        (Fault::Status { status: 500 }, true, false),
        (Fault::Status { status: 503 }, true, false),
        (Fault::HtmlErrorPage { status: 502 }, true, false),
        (Fault::MalformedJson, true, true),
        (Fault::DropBeforeApply, true, false),
        (Fault::DropAfterApply, true, true),
        (Fault::HangAfterApply, true, true),
        (Fault::RateLimited { retry_after: 3 }, false, false),
        (Fault::Latency { ms: 50 }, false, true),
    ];
    for (fault, unknown, applied) in cases {
        let (sims, client) = setup().await;
        sims.pesavoucher.faults.inject("redeem_voucher", fault.clone());
        let answer = client.redeem_voucher(&code("TRN-ACTIVE-5000"), "amina", "t").await;
        match &answer {
            Ok(_) => assert!(!unknown, "{fault:?}"),
            Err(e) => assert_eq!(e.outcome_unknown(), unknown, "{fault:?}: {e:?}"),
        }
        let count = sims.pesavoucher.redemption_counts().get("TRN-ACTIVE-5000").copied().unwrap_or(0);
        assert_eq!(count, applied as u32, "{fault:?}");
    }
}
