//! The GiftPesa client against the simulator: the RSA sign-in, token reuse
//! and renewal, the document's samples, every documented error status, and
//! faults on /redeem classified by what the till can know, with the
//! simulator's own count proving nothing was redeemed twice.

use std::time::Duration;

use base64::Engine as _;
use kaunta_core::money::{Currency, Money};
use kaunta_core::phone::{Msisdn, TillNumber};
use kaunta_core::providers::ProviderId;
use kaunta_core::providers::giftpesa::{
    Client, Credentials, Disbursement, EncryptionKey, GiftPesaError, Reason, Redemption, RetryPolicy,
};
use kaunta_core::training::giftpesa::TRAINING_CERTIFICATE;
use kaunta_core::training::{Fault, Simulators, TRAINING_GIFTPESA_API_KEY, TRAINING_GIFTPESA_USERNAME};

fn creds() -> Credentials {
    Credentials { username: TRAINING_GIFTPESA_USERNAME.into(), api_key: TRAINING_GIFTPESA_API_KEY.into() }
}

fn key() -> EncryptionKey {
    EncryptionKey::from_certificate(TRAINING_CERTIFICATE.as_bytes()).unwrap()
}

/// Fast retries, so retry tests take milliseconds.
fn fast() -> RetryPolicy {
    RetryPolicy { retries: 2, base_delay: Duration::from_millis(5), max_wait: Duration::from_millis(200) }
}

fn client_for(sims: &Simulators, credentials: Credentials) -> Client {
    Client::with_timeout(sims.base_url(ProviderId::GiftPesa), credentials, key(), Duration::from_secs(2))
        .with_retry_policy(fast())
}

async fn setup() -> (Simulators, Client) {
    let sims = Simulators::start(0).await.unwrap();
    let client = client_for(&sims, creds());
    (sims, client)
}

fn kes(shillings: i64) -> Money {
    Money::new(shillings * 100, Currency::KES)
}

/// An owned redemption, lent to the client as `Redemption`.
struct Order {
    id: String,
    phone: Msisdn,
    till: TillNumber,
    amount: Money,
}

fn order(id: &str, phone: &str, till: &str, amount: Money) -> Order {
    Order { id: id.into(), phone: Msisdn::parse(phone).unwrap(), till: TillNumber::parse(till).unwrap(), amount }
}

impl Order {
    fn as_redemption(&self) -> Redemption<'_> {
        Redemption {
            transaction_id: &self.id,
            name: "Jane Doe",
            phone: &self.phone,
            till: &self.till,
            amount: self.amount,
            remarks: Some("Weekly shopping"),
        }
    }
}

/// For requests the client never makes; no proxy, as the simulator is on loopback.
fn raw_http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn received(sims: &Simulators, endpoint: &str) -> u64 {
    sims.giftpesa.faults.received().get(endpoint).copied().unwrap_or(0)
}

fn redeemed(sims: &Simulators, id: &str) -> u32 {
    sims.giftpesa.redemption_counts().get(id).copied().unwrap_or(0)
}

#[tokio::test]
async fn signing_in_encrypts_the_api_key_and_the_documented_merchants_come_back() {
    let (sims, client) = setup().await;
    let merchants = client.merchants().await.unwrap();
    let ids: Vec<(&str, &str, &str)> =
        merchants.iter().map(|m| (m.merchant_id.as_str(), m.merchant.as_str(), m.category.label.as_str())).collect();
    assert_eq!(ids, [("naivas", "Naivas", "Supermarkets"), ("pizza-inn", "Pizza Inn", "Cafes and Restaurants")]);
    assert_eq!(sims.giftpesa.tokens_issued(), 1);
}

#[tokio::test]
async fn a_der_certificate_signs_in_like_the_pem_one() {
    let sims = Simulators::start(0).await.unwrap();
    let body: String = TRAINING_CERTIFICATE.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD.decode(body).unwrap();
    let key = EncryptionKey::from_certificate(&der).unwrap();
    let client = Client::new(sims.base_url(ProviderId::GiftPesa), creds(), key);
    client.merchants().await.unwrap();
    assert_eq!(sims.giftpesa.tokens_issued(), 1);
}

#[tokio::test]
async fn files_that_are_not_a_certificate_are_refused_before_any_request() {
    for bytes in [&b"not a certificate"[..], b"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"] {
        match EncryptionKey::from_certificate(bytes) {
            Err(e @ GiftPesaError::Key(_)) => assert_eq!(e.code(), "certificate"),
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn a_wrong_api_key_or_username_is_refused_at_sign_in_without_showing_it() {
    let sims = Simulators::start(0).await.unwrap();
    let wrong_key = Credentials { api_key: "wrong-key-123".into(), ..creds() };
    let wrong_user = Credentials { username: "someone-else".into(), ..creds() };
    for credentials in [wrong_key, wrong_user] {
        let client = client_for(&sims, credentials);
        let e = client.merchants().await.unwrap_err();
        match &e {
            GiftPesaError::Authorize(inner) => assert!(
                matches!(**inner, GiftPesaError::Declined { reason: Reason::Unauthorized, status: 401, .. }),
                "{inner:?}"
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(e.code(), "credentials_rejected");
        assert!(!e.to_string().contains("wrong-key-123") && !e.to_string().contains("someone-else"), "{e}");
    }
    assert_eq!(received(&sims, "merchants"), 0);
    assert_eq!(sims.giftpesa.tokens_issued(), 0);
}

/// The simulator accepts a TIMESTAMP within ten minutes of its clock.
#[tokio::test]
async fn the_simulator_refuses_a_stale_timestamp_and_accepts_a_fresh_one() {
    let sims = Simulators::start(0).await.unwrap();
    let url = format!("{}/authorize", sims.base_url(ProviderId::GiftPesa));
    let http = raw_http();
    let now = chrono::Utc::now();
    for (at, expected) in [
        (now - chrono::TimeDelta::minutes(11), 401),
        (now + chrono::TimeDelta::minutes(11), 401),
        (now - chrono::TimeDelta::minutes(9), 200),
    ] {
        let header = key().authorization(TRAINING_GIFTPESA_API_KEY, at).unwrap();
        let response = http
            .get(&url)
            .header("Authorization", header)
            .header("Username", TRAINING_GIFTPESA_USERNAME)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), expected, "{at}");
    }
    let garbled = http
        .get(&url)
        .header("Authorization", "Basic bm90IGVuY3J5cHRlZA==")
        .header("Username", TRAINING_GIFTPESA_USERNAME)
        .send()
        .await
        .unwrap();
    assert_eq!(garbled.status().as_u16(), 401);
    assert_eq!(sims.giftpesa.tokens_issued(), 1);
}

#[tokio::test]
async fn one_sign_in_serves_many_calls_even_concurrent_ones() {
    let (sims, client) = setup().await;
    let (a, b, c) = tokio::join!(client.merchants(), client.merchants(), client.query_disbursement("TRN-DISB-0001"));
    a.unwrap();
    b.unwrap();
    c.unwrap();
    client.redeem(&order("T-many-1", "0720123456", "123456", kes(10)).as_redemption()).await.unwrap();
    assert_eq!(received(&sims, "authorize"), 1);
    assert_eq!(sims.giftpesa.tokens_issued(), 1);
}

#[tokio::test]
async fn a_token_is_renewed_before_it_expires_not_after_a_refusal() {
    let (sims, client) = setup().await;
    sims.giftpesa.set_token_lifetime(Duration::from_secs(1));
    client.merchants().await.unwrap();
    client.merchants().await.unwrap();
    assert_eq!(sims.giftpesa.tokens_issued(), 1, "a short token is still reused while fresh");
    // Waiting for the token's lifetime to pass is the behaviour under test,
    // not synchronisation.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    client.merchants().await.unwrap();
    assert_eq!(sims.giftpesa.tokens_issued(), 2);
    // Renewed ahead: no request went out with the expired token.
    assert_eq!(received(&sims, "merchants"), 3);
}

#[tokio::test]
async fn a_refused_token_is_renewed_once_and_the_read_repeated() {
    let (sims, client) = setup().await;
    client.merchants().await.unwrap();
    sims.giftpesa.expire_tokens();
    client.merchants().await.unwrap();
    assert_eq!(sims.giftpesa.tokens_issued(), 2);
    assert_eq!(received(&sims, "merchants"), 3, "one refused, one repeated");

    // Refused again after signing in again: an error, not a loop.
    sims.giftpesa.faults.inject("query", Fault::Status { status: 401 });
    sims.giftpesa.faults.inject("query", Fault::Status { status: 401 });
    match client.query_disbursement("TRN-DISB-0001").await {
        Err(GiftPesaError::Declined { reason: Reason::Unauthorized, status: 401, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(received(&sims, "query"), 2);
    assert_eq!(sims.giftpesa.tokens_issued(), 3);
}

#[tokio::test]
async fn a_refused_token_on_redeem_is_a_plain_failure_and_the_next_call_signs_in_again() {
    let (sims, client) = setup().await;
    client.merchants().await.unwrap();
    sims.giftpesa.expire_tokens();
    let first = order("T-401-1", "0720123456", "123456", kes(10));
    let e = client.redeem(&first.as_redemption()).await.unwrap_err();
    assert!(matches!(e, GiftPesaError::Declined { reason: Reason::Unauthorized, status: 401, .. }), "{e:?}");
    assert!(!e.outcome_unknown());
    assert_eq!((received(&sims, "redeem"), redeemed(&sims, "T-401-1")), (1, 0), "sent once, nothing redeemed");
    assert_eq!(sims.giftpesa.tokens_issued(), 1, "no sign-in and repeat inside a redemption");

    let second = order("T-401-2", "0720123456", "123456", kes(10));
    client.redeem(&second.as_redemption()).await.unwrap();
    assert_eq!(sims.giftpesa.tokens_issued(), 2);
    assert_eq!(sims.giftpesa.redemption_counts().into_iter().collect::<Vec<_>>(), [("T-401-2".to_string(), 1)]);
}

#[tokio::test]
async fn the_documented_redeem_sample_succeeds_with_every_field() {
    let (sims, client) = setup().await;
    let o = order("T-sample", "+254720123456", "123456", kes(10));
    let r = client.redeem(&o.as_redemption()).await.unwrap();
    assert_eq!(r.transaction_id, "T-sample");
    assert_eq!(r.status, "success");
    assert_eq!(r.transaction_code, "A9012333");
    assert_eq!(r.merchant, "Naivas - EastGate");
    assert_eq!(r.till_no, "123456");
    assert_eq!(r.amount, kes(10));
    assert_eq!(r.receipt_no.len(), 8);
    // The document's year-day-month date, kept as sent.
    assert!(chrono::NaiveDateTime::parse_from_str(&r.transaction_date, "%Y-%d-%m %H:%M:%S").is_ok(), "{r:?}");
    assert_eq!(
        r.message,
        format!("{} confirmed. KES 10 redeemed at Naivas - EastGate on {}.", r.receipt_no, r.transaction_date)
    );
    assert_eq!(sims.giftpesa.balance("0720123456"), Some(kes(990)));
    assert_eq!(redeemed(&sims, "T-sample"), 1);
}

#[tokio::test]
async fn the_documented_disbursement_query_sample_comes_back_typed() {
    let (_sims, client) = setup().await;
    assert_eq!(
        client.query_disbursement("TRN-DISB-0001").await.unwrap(),
        Disbursement {
            disbursement_id: "TRN-DISB-0001".into(),
            status: "success".into(),
            amount: kes(100),
            recipients_count: 1,
            amount_disbursed: kes(100),
        }
    );
    let failed = client.query_disbursement("TRN-DISB-FAILED").await.unwrap();
    assert_eq!((failed.status.as_str(), failed.amount_disbursed), ("failed", kes(0)));
    for (id, code) in [("TRN-DISB-OTHER", "forbidden"), ("NO-SUCH-ONE", "not_found")] {
        assert_eq!(client.query_disbursement(id).await.unwrap_err().code(), code, "{id}");
    }
}

#[tokio::test]
async fn every_documented_error_status_on_redeem_comes_back_typed_and_redeems_nothing() {
    let (sims, client) = setup().await;
    let cases = [
        ("0700000400", "123456", 10, 400, "bad_request", false),
        ("0722000050", "123456", 51, 400, "bad_request", false), // John Doe has KES 50
        ("0700000403", "123456", 10, 403, "forbidden", false),
        ("0720123456", "403403", 10, 403, "forbidden", false),
        ("0700000404", "123456", 10, 404, "not_found", false),
        ("0720123456", "404404", 10, 404, "not_found", false),
        ("0700000429", "123456", 10, 429, "too_many_requests", false),
        ("0700000500", "123456", 10, 500, "internal_server_error", true),
        ("0700000503", "123456", 10, 503, "service_unavailable", true),
    ];
    for (i, (phone, till, shillings, status, code, unknown)) in cases.into_iter().enumerate() {
        let o = order(&format!("T-err-{i}"), phone, till, kes(shillings));
        let e = client.redeem(&o.as_redemption()).await.unwrap_err();
        let got_status = match &e {
            GiftPesaError::Declined { status, .. } | GiftPesaError::Server { status, .. } => *status,
            other => panic!("{phone}: {other:?}"),
        };
        assert_eq!((got_status, e.code(), e.outcome_unknown()), (status, code, unknown), "{phone} {till}");
    }
    assert_eq!(received(&sims, "redeem"), 9, "each sent once, none retried");
    assert!(sims.giftpesa.redemption_counts().is_empty());
    assert_eq!(sims.giftpesa.balance("0722000050"), Some(kes(50)));
}

/// 405 and 406 come from requests the client never makes; the simulator
/// answers them as documented, and the client classifies them when they come.
#[tokio::test]
async fn method_and_format_errors_are_reachable_and_classified() {
    let (sims, client) = setup().await;
    client.merchants().await.unwrap();
    let base = sims.base_url(ProviderId::GiftPesa);
    let http = raw_http();
    let get_redeem = http.get(format!("{base}/redeem")).send().await.unwrap();
    assert_eq!(get_redeem.status().as_u16(), 405);
    let body: serde_json::Value = get_redeem.json().await.unwrap();
    assert_eq!(body["Message"], "Method Not Allowed -- Method not allowed on resource.");

    let token = {
        let header = key().authorization(TRAINING_GIFTPESA_API_KEY, chrono::Utc::now()).unwrap();
        let r = http
            .get(format!("{base}/authorize"))
            .header("Authorization", header)
            .header("Username", TRAINING_GIFTPESA_USERNAME)
            .send()
            .await
            .unwrap();
        r.json::<serde_json::Value>().await.unwrap()["AccessToken"].as_str().unwrap().to_string()
    };
    let not_json =
        http.post(format!("{base}/redeem")).bearer_auth(&token).body("TransactionID=1").send().await.unwrap();
    assert_eq!(not_json.status().as_u16(), 406);
    let no_token = http.post(format!("{base}/redeem")).body("{}").send().await.unwrap();
    assert_eq!(no_token.status().as_u16(), 401);

    for (status, code) in [(405, "method_not_allowed"), (406, "not_acceptable")] {
        sims.giftpesa.faults.inject("merchants", Fault::Status { status });
        let e = client.merchants().await.unwrap_err();
        assert_eq!(e.code(), code);
    }
}

#[tokio::test]
async fn bad_input_is_refused_before_any_request() {
    let (sims, client) = setup().await;
    let cents = order("T-cents", "0720123456", "123456", Money::new(1_050, Currency::KES));
    assert!(matches!(client.redeem(&cents.as_redemption()).await, Err(GiftPesaError::Input(_))));
    let birr = order("T-birr", "0720123456", "123456", Money::new(1_000, Currency::ETB));
    assert!(matches!(client.redeem(&birr.as_redemption()).await, Err(GiftPesaError::Input(_))));
    let nameless = order("T-noname", "0720123456", "123456", kes(10));
    let r = Redemption { name: "  ", ..nameless.as_redemption() };
    assert_eq!(client.redeem(&r).await.unwrap_err().code(), "invalid_input");
    assert_eq!((received(&sims, "authorize"), received(&sims, "redeem")), (0, 0));
}

/// Each fault on /redeem: whether the outcome is unknown, and whether the
/// simulator really redeemed. The request is sent exactly once every time.
#[tokio::test]
async fn faults_on_redeem_are_classified_and_nothing_is_sent_twice() {
    let cases = [
        (Fault::Status { status: 500 }, true, false),
        (Fault::Status { status: 503 }, true, false),
        (Fault::HtmlErrorPage { status: 502 }, true, false),
        (Fault::MalformedJson, true, true),
        (Fault::DropBeforeApply, true, false),
        (Fault::DropAfterApply, true, true),
        (Fault::HangBeforeApply, true, false),
        (Fault::HangAfterApply, true, true),
        (Fault::RateLimited { retry_after: 0 }, false, false),
        (Fault::Status { status: 400 }, false, false),
        (Fault::Latency { ms: 50 }, false, true),
    ];
    for (fault, unknown, applied) in cases {
        let sims = Simulators::start(0).await.unwrap();
        let client = Client::with_timeout(sims.base_url(ProviderId::GiftPesa), creds(), key(), Duration::from_secs(1))
            .with_retry_policy(fast());
        sims.giftpesa.faults.inject("redeem", fault.clone());
        let o = order("T-fault", "0711000111", "123456", kes(100));
        match client.redeem(&o.as_redemption()).await {
            Ok(r) => {
                assert!(!unknown, "{fault:?}");
                assert_eq!(r.amount, kes(100));
            }
            Err(e) => {
                assert_eq!(e.outcome_unknown(), unknown, "{fault:?}: {e:?}");
                assert!(!e.is_unreachable(), "{fault:?}");
            }
        }
        assert_eq!(received(&sims, "redeem"), 1, "{fault:?}: sent once");
        assert_eq!(redeemed(&sims, "T-fault"), applied as u32, "{fault:?}");
    }
}

/// A redemption whose sign-in failed was never sent: not unknown, whatever
/// happened to the sign-in.
#[tokio::test]
async fn a_failed_sign_in_before_redeem_is_never_unknown() {
    for fault in [Fault::DropAfterApply, Fault::Status { status: 500 }, Fault::MalformedJson] {
        let (sims, client) = setup().await;
        sims.giftpesa.faults.inject("authorize", fault.clone());
        let o = order("T-signin", "0720123456", "123456", kes(10));
        let e = client.redeem(&o.as_redemption()).await.unwrap_err();
        assert!(matches!(e, GiftPesaError::Authorize(_)), "{fault:?}: {e:?}");
        assert!(!e.outcome_unknown(), "{fault:?}");
        assert_eq!(received(&sims, "redeem"), 0, "{fault:?}");
    }
}

#[tokio::test]
async fn a_closed_port_is_unreachable_not_unknown() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let base = url::Url::parse(&format!("http://127.0.0.1:{port}/giftpesa")).unwrap();
    let client = Client::new(base, creds(), key());
    let o = order("T-closed", "0720123456", "123456", kes(10));
    let e = client.redeem(&o.as_redemption()).await.unwrap_err();
    assert!(e.is_unreachable(), "{e:?}");
    assert!(!e.outcome_unknown());
    assert_eq!(e.code(), "unreachable");
}

#[tokio::test]
async fn reads_and_sign_in_retry_on_429_and_503_within_bounds() {
    let (sims, client) = setup().await;
    sims.giftpesa.faults.inject("authorize", Fault::Status { status: 503 });
    sims.giftpesa.faults.inject("merchants", Fault::RateLimited { retry_after: 0 });
    client.merchants().await.unwrap();
    assert_eq!((received(&sims, "authorize"), received(&sims, "merchants")), (2, 2));

    sims.giftpesa.faults.inject("query", Fault::Status { status: 503 });
    sims.giftpesa.faults.inject("query", Fault::RateLimited { retry_after: 0 });
    client.query_disbursement("TRN-DISB-0001").await.unwrap();
    assert_eq!(received(&sims, "query"), 3);

    // Bounded: two retries, then the error.
    for _ in 0..3 {
        sims.giftpesa.faults.inject("merchants", Fault::Status { status: 503 });
    }
    let e = client.merchants().await.unwrap_err();
    assert!(matches!(e, GiftPesaError::Server { reason: Reason::ServiceUnavailable, .. }), "{e:?}");
    assert_eq!(received(&sims, "merchants"), 5);

    // A Retry-After longer than a cashier can wait is honoured by not retrying.
    sims.giftpesa.faults.inject("merchants", Fault::RateLimited { retry_after: 3_600 });
    assert_eq!(client.merchants().await.unwrap_err().code(), "too_many_requests");
    assert_eq!(received(&sims, "merchants"), 6);

    // Other errors are not retried.
    sims.giftpesa.faults.inject("merchants", Fault::Status { status: 500 });
    assert_eq!(client.merchants().await.unwrap_err().code(), "internal_server_error");
    assert_eq!(received(&sims, "merchants"), 7);
}

#[tokio::test]
async fn redeem_is_never_retried_on_429_or_503() {
    let (sims, client) = setup().await;
    for (i, fault) in [Fault::RateLimited { retry_after: 0 }, Fault::Status { status: 503 }].into_iter().enumerate() {
        sims.giftpesa.faults.inject("redeem", fault.clone());
        let o = order(&format!("T-once-{i}"), "0720123456", "123456", kes(10));
        assert!(client.redeem(&o.as_redemption()).await.is_err(), "{fault:?}");
        assert_eq!(received(&sims, "redeem"), i as u64 + 1, "{fault:?}");
    }
    assert!(sims.giftpesa.redemption_counts().is_empty());
}
