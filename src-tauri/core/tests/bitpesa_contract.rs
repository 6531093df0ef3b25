//! The BitPesa client against the simulator: signatures checked for real
//! (a wrong secret, key or a replayed nonce is refused with 401), balances
//! read exactly, the 422 `errors` and `meta` messages parsed, senders created
//! once and found by `external_id`, transactions created, funded, followed,
//! and a failed payout cancelled and refunded.

use std::collections::BTreeMap;
use std::time::Duration;

use kaunta_core::money::{Currency, Money};
use kaunta_core::providers::ProviderId;
use kaunta_core::providers::bitpesa::{
    BitPesaError, Client, Credentials, NewPayoutMethod, NewRecipient, NewSender, NewTransaction, SenderRef,
    TransactionState, sign,
};
use kaunta_core::training::{Simulators, TRAINING_BITPESA_API_KEY, TRAINING_BITPESA_API_SECRET};

fn creds() -> Credentials {
    Credentials { api_key: TRAINING_BITPESA_API_KEY.into(), api_secret: TRAINING_BITPESA_API_SECRET.into() }
}

async fn setup() -> (Simulators, Client) {
    let sims = Simulators::start(0).await.unwrap();
    let client = Client::with_timeout(sims.base_url(ProviderId::BitPesa), creds(), Duration::from_secs(5));
    (sims, client)
}

fn kes(minor: i64) -> Money {
    Money::new(minor, Currency::KES)
}

/// The business sender sample of business-payments.md, made Kenyan.
fn store(external_id: &str) -> NewSender {
    NewSender {
        kind: "business",
        name: "Duka la Mama Njeri".into(),
        country: "KE".into(),
        trading_country: "KE".into(),
        city: "Nairobi".into(),
        street: "20 Moi Avenue".into(),
        postal_code: "00100".into(),
        address_description: String::new(),
        registration_number: None,
        phone_number: Some("+254700123456".into()),
        email: "example@home.org".into(),
        external_id: external_id.into(),
        documents: Vec::new(),
        ip: "127.0.0.1".into(),
        metadata: serde_json::json!({}),
    }
}

fn mpesa(sender: &str, external_id: &str, amount: Money, phone: &str) -> NewTransaction {
    let details: BTreeMap<String, String> = [
        ("first_name", "First"),
        ("last_name", "Last"),
        ("phone_number", phone),
        ("mobile_provider", "mpesa"),
        ("transfer_reason", "personal_account"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    NewTransaction {
        input_currency: "KES".into(),
        sender: SenderRef { id: sender.into() },
        recipients: vec![NewRecipient {
            requested_amount: amount.to_wire_decimal(),
            requested_currency: "KES".into(),
            kind: "person",
            payout_method: NewPayoutMethod { kind: "KES::Mobile".into(), details },
        }],
        metadata: serde_json::json!({}),
        external_id: external_id.into(),
    }
}

#[tokio::test]
async fn a_wrong_secret_or_key_is_refused_with_401_and_the_meta_message() {
    let (sims, _) = setup().await;
    for bad in [
        Credentials { api_key: TRAINING_BITPESA_API_KEY.into(), api_secret: "not-the-secret".into() },
        Credentials { api_key: "someone-else".into(), api_secret: TRAINING_BITPESA_API_SECRET.into() },
    ] {
        let client = Client::with_timeout(sims.base_url(ProviderId::BitPesa), bad, Duration::from_secs(5));
        match client.accounts().await {
            Err(e @ BitPesaError::Unauthorized { .. }) => {
                assert_eq!(e.code(), "unauthorized");
                assert!(e.to_string().contains("Invalid"), "{e}");
                assert!(!e.outcome_unknown());
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn a_replayed_nonce_or_an_altered_url_is_refused() {
    let (sims, _) = setup().await;
    let url = format!("{}/v1/accounts", sims.base_url(ProviderId::BitPesa));
    let nonce = "00c6a48a-ccb8-4653-a0c8-de7c1ab67529";
    let http = reqwest::Client::new();
    let send = |url: String, signed_url: String| {
        let signature = sign::signature(TRAINING_BITPESA_API_SECRET, nonce, "GET", &signed_url, b"");
        http.get(url)
            .header("Authorization-Key", TRAINING_BITPESA_API_KEY)
            .header("Authorization-Nonce", nonce)
            .header("Authorization-Signature", signature)
            .send()
    };
    // Signed for another URL (the query is part of what is signed).
    let r = send(url.clone(), format!("{url}?currency=KES")).await.unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(send(url.clone(), url.clone()).await.unwrap().status(), 200);
    let again = send(url.clone(), url.clone()).await.unwrap();
    assert_eq!(again.status(), 401, "a nonce is good once");
    let body: serde_json::Value = again.json().await.unwrap();
    assert_eq!(body["meta"]["error"], "Nonce has already been used");
}

#[tokio::test]
async fn balances_are_read_exactly_per_currency() {
    let (sims, client) = setup().await;
    sims.bitpesa.set_balance(Money::new(9_007_199_254_740_991, Currency::KES));
    let b = client.accounts().await.unwrap();
    assert!(!b.negative_balance);
    let kes_balance = b.accounts.iter().find(|a| a.currency == "KES").unwrap();
    assert_eq!(kes_balance.amount.text(), "90071992547409.91");
    assert_eq!(kes_balance.amount.money(Currency::KES), Ok(kes(9_007_199_254_740_991)));
    let ugx = b.accounts.iter().find(|a| a.currency == "UGX").unwrap();
    assert_eq!(ugx.amount.money(Currency::UGX), Ok(Money::new(5_000_000, Currency::UGX)));
}

#[tokio::test]
async fn a_sender_is_created_once_and_found_by_its_external_id() {
    let (sims, client) = setup().await;
    assert_eq!(client.find_sender("Sender:Business:KE:1").await.unwrap(), None);
    let created = client.create_sender(&store("Sender:Business:KE:1")).await.unwrap();
    assert!(created.may_transact());
    let found = client.find_sender("Sender:Business:KE:1").await.unwrap().unwrap();
    assert_eq!(found.id, created.id);
    // A second creation with the same external_id is a 422 naming the field.
    match client.create_sender(&store("Sender:Business:KE:1")).await {
        Err(BitPesaError::Validation { errors, .. }) => {
            assert_eq!(errors[0].field, "external_id");
            assert_eq!(errors[0].message, "has already been taken");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sims.bitpesa.sender_creations(), 1);
    // A sender missing its address is refused field by field.
    let mut bare = store("Sender:Business:KE:2");
    bare.city.clear();
    bare.email.clear();
    let e = client.create_sender(&bare).await.unwrap_err();
    assert_eq!(e.to_string(), "BitPesa refused the request: city: can't be blank; email: can't be blank");
}

#[tokio::test]
async fn invalid_transactions_get_422_with_every_field_and_create_nothing() {
    let (sims, client) = setup().await;
    let sender = client.create_sender(&store("s")).await.unwrap();
    let mut t = mpesa(&sender.id, "tx-bad", kes(150_000), "+25471234");
    t.recipients[0].payout_method.details.remove("first_name");
    match client.create_transaction(&t).await {
        Err(e @ BitPesaError::Validation { .. }) => {
            assert!(!e.outcome_unknown(), "a 422 proves nothing was created");
            let text = e.to_string();
            assert!(text.contains("first name: can't be blank") && text.contains("phone number: is invalid"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sims.bitpesa.transaction_creations(), 0);
    assert_eq!(client.find_transaction("tx-bad").await.unwrap(), None);
    // Reading an unknown transaction is a 404, its message in `meta`.
    assert!(matches!(client.transaction("nope").await, Err(BitPesaError::NotFound { .. })));
}

#[tokio::test]
async fn a_transaction_is_created_funded_and_paid_with_exact_amounts() {
    let (sims, client) = setup().await;
    sims.bitpesa.set_advance_after(1);
    let sender = client.create_sender(&store("s")).await.unwrap();
    let t = client.create_transaction(&mpesa(&sender.id, "tx-1", kes(150_000), "+254712345678")).await.unwrap();
    assert_eq!(t.state(), TransactionState::Approved);
    assert_eq!(t.input().unwrap(), Some(kes(150_000)));
    assert!(!t.is_funded());
    // The same external_id again: refused, and the existing transaction returned.
    match client.create_transaction(&mpesa(&sender.id, "tx-1", kes(150_000), "+254712345678")).await {
        Err(BitPesaError::Validation { errors, .. }) => assert_eq!(errors[0].field, "external_id"),
        other => panic!("{other:?}"),
    }
    assert_eq!(client.find_transaction("tx-1").await.unwrap().unwrap().id, t.id);

    // Funding with the wrong amount is refused; the right one debits exactly.
    let e = client.fund(&t.id, kes(150_100)).await.unwrap_err();
    assert!(e.to_string().contains("amount: does not match"), "{e}");
    client.fund(&t.id, kes(150_000)).await.unwrap();
    assert_eq!(sims.bitpesa.balance(Currency::KES), Some(kes(50_000_000 - 150_000)));
    let funded = client.transaction(&t.id).await.unwrap();
    assert!(funded.is_funded());
    assert_eq!(funded.recipient().unwrap().state, "pending");
    assert!(!funded.recipient().unwrap().may_cancel, "a payout under way cannot be cancelled");
    // Funding twice is refused.
    assert!(matches!(client.fund(&t.id, kes(150_000)).await, Err(BitPesaError::Validation { .. })));

    let paid = client.transaction(&t.id).await.unwrap();
    assert_eq!(paid.state(), TransactionState::Paid);
    assert_eq!(paid.recipient().unwrap().state, "success");
    assert_eq!(paid.recipient().unwrap().output().unwrap(), Some(kes(150_000)));
    assert_eq!(sims.bitpesa.balance(Currency::KES), Some(kes(50_000_000 - 150_000)));
}

#[tokio::test]
async fn a_failed_payout_is_cancelled_through_its_recipient_and_refunded() {
    let (sims, client) = setup().await;
    sims.bitpesa.set_advance_after(0);
    let sender = client.create_sender(&store("s")).await.unwrap();
    let t = client.create_transaction(&mpesa(&sender.id, "tx-2", kes(250_000), "+254712345619")).await.unwrap();
    client.fund(&t.id, kes(250_000)).await.unwrap();
    let failed = client.transaction(&t.id).await.unwrap();
    let r = failed.recipient().unwrap();
    assert_eq!((failed.state.as_str(), r.state.as_str()), ("manual", "error"));
    assert!(r.may_cancel);
    assert!(r.state_reason.as_deref().unwrap().starts_with("Mobile number is not registered"));
    assert_eq!(r.state_reason_details.as_ref().unwrap().category.as_deref(), Some("recipient_error"));
    assert_eq!(sims.bitpesa.balance(Currency::KES), Some(kes(50_000_000 - 250_000)));

    let cancelled = client.cancel_recipient(&r.id).await.unwrap();
    assert_eq!(cancelled.state, "canceled");
    // Cancelling again is refused with a 422.
    assert!(matches!(client.cancel_recipient(&r.id).await, Err(BitPesaError::Validation { .. })));
    let refunded = client.transaction(&t.id).await.unwrap();
    assert_eq!(refunded.state(), TransactionState::Refunded);
    assert_eq!(sims.bitpesa.balance(Currency::KES), Some(kes(50_000_000)));
}

#[tokio::test]
async fn funding_more_than_the_balance_is_refused_with_422() {
    let (sims, client) = setup().await;
    sims.bitpesa.set_balance(kes(100_000));
    let sender = client.create_sender(&store("s")).await.unwrap();
    let t = client.create_transaction(&mpesa(&sender.id, "tx-3", kes(150_000), "+254712345678")).await.unwrap();
    let e = client.fund(&t.id, kes(150_000)).await.unwrap_err();
    assert_eq!(e.to_string(), "BitPesa refused the request: Insufficient balance in your KES account");
    assert!(!e.outcome_unknown());
    assert_eq!(sims.bitpesa.balance(Currency::KES), Some(kes(100_000)));
}

#[tokio::test]
async fn lookups_by_external_id_return_only_objects_carrying_exactly_that_id() {
    let (sims, client) = setup().await;
    // A listing that also returns objects without an external_id.
    sims.bitpesa.seed_foreign_transaction(kes(100_000));
    sims.bitpesa.seed_foreign_sender();
    assert_eq!(client.find_sender("kaunta-store-duka").await.unwrap(), None);
    assert!(client.find_transaction("tx-ours").await.unwrap().is_none());
    let ours = client.create_sender(&store("kaunta-store-duka")).await.unwrap();
    assert_eq!(client.find_sender("kaunta-store-duka").await.unwrap().map(|s| s.id), Some(ours.id.clone()));
    let created = client.create_transaction(&mpesa(&ours.id, "tx-ours", kes(50_000), "+254712345678")).await.unwrap();
    assert_eq!(client.find_transaction("tx-ours").await.unwrap().map(|t| t.id), Some(created.id));
}
