//! The Pesapal API 3.0 client against the simulator, with the document's
//! samples: token reuse and renewal, the error object with HTTP 200, IPN
//! registration, orders refused before sending, status transitions, the
//! checkout page's links back to the callback URL, and faults on
//! SubmitOrderRequest classified by what the till can know.

use std::time::Duration;

use kaunta_core::money::{Currency, Money};
use kaunta_core::phone::Msisdn;
use kaunta_core::providers::ProviderId;
use kaunta_core::providers::pesapal::{
    BillingAddress, Client, Credentials, IpnNotificationType, Notification, NotificationType, OrderRequest,
    PaymentStatus, PesapalError, SubmittedOrder,
};
use kaunta_core::training::pesapal::{SAMPLE_FAILED_DESCRIPTION, SAMPLE_IPNS, TRAINING_IPN_ID};
use kaunta_core::training::{Fault, Simulators, TRAINING_PESAPAL_CONSUMER_KEY, TRAINING_PESAPAL_CONSUMER_SECRET};
use url::Url;

fn creds() -> Credentials {
    Credentials {
        consumer_key: TRAINING_PESAPAL_CONSUMER_KEY.into(),
        consumer_secret: TRAINING_PESAPAL_CONSUMER_SECRET.into(),
    }
}

fn client_for(sims: &Simulators, credentials: Credentials, timeout: Duration) -> Client {
    Client::with_timeout(sims.base_url(ProviderId::Pesapal), credentials, timeout)
}

async fn setup() -> (Simulators, Client) {
    let sims = Simulators::start(0).await.unwrap();
    let client = client_for(&sims, creds(), Duration::from_secs(2));
    (sims, client)
}

fn kes(minor: i64) -> Money {
    Money::new(minor, Currency::KES)
}

/// The document's sample callback URL.
fn callback() -> Url {
    Url::parse("https://www.myapplication.com/response-page").unwrap()
}

/// The document's sample billing address (its "0723xxxxxx" made a number).
fn sample_address() -> BillingAddress {
    BillingAddress {
        phone_number: Some(Msisdn::parse("0723000456").unwrap()),
        email_address: Some("john.doe@example.com".into()),
        country_code: Some("KE".into()),
        first_name: Some("John".into()),
        middle_name: Some(String::new()),
        last_name: Some("Doe".into()),
        line_1: Some("Pesapal Limited".into()),
        ..BillingAddress::default()
    }
}

/// The document's SubmitOrderRequest sample, with the training IPN id.
fn sample_order<'a>(reference: &'a str, callback: &'a Url, address: &'a BillingAddress) -> OrderRequest<'a> {
    OrderRequest {
        merchant_reference: reference,
        amount: kes(10_000),
        description: "Payment description goes here",
        callback_url: callback,
        cancellation_url: None,
        redirect_mode: None,
        notification_id: TRAINING_IPN_ID,
        branch: Some("Store Name - HQ"),
        billing_address: address,
    }
}

async fn submit(client: &Client, reference: &str) -> SubmittedOrder {
    let (cb, address) = (callback(), sample_address());
    client.submit_order(&sample_order(reference, &cb, &address)).await.unwrap()
}

/// For the customer's browser and requests the client never makes: no
/// proxy (the simulator is on loopback) and redirects not followed.
fn browser() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn received(sims: &Simulators, endpoint: &str) -> u64 {
    sims.pesapal.faults.received().get(endpoint).copied().unwrap_or(0)
}

/// The checkout page's link with this id, as an absolute URL.
async fn link(page_url: &Url, id: &str) -> Url {
    let html = browser().get(page_url.clone()).send().await.unwrap().text().await.unwrap();
    let marker = format!("id=\"{id}\" href=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no #{id} in {html}")) + marker.len();
    let href = &html[start..start + html[start..].find('"').unwrap()];
    page_url.join(&href.replace("&amp;", "&")).unwrap()
}

/// Follows one link the way a browser would, returning the redirect target.
async fn press(page_url: &Url, id: &str) -> Url {
    let response = browser().get(link(page_url, id).await).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 303, "#{id}");
    Url::parse(response.headers()["location"].to_str().unwrap()).unwrap()
}

#[tokio::test]
async fn the_provider_is_known_by_its_documented_addresses() {
    let p: ProviderId = "pesapal".parse().unwrap();
    assert_eq!(p, ProviderId::Pesapal);
    assert!(ProviderId::ALL.contains(&p));
    assert_eq!((p.as_str(), p.display_name(), p.reference_label()), ("pesapal", "Pesapal", "Pesapal order"));
    assert_eq!(p.sandbox_url(), Some("https://cybqa.pesapal.com/pesapalv3"));
    assert_eq!(p.live_url(), Some("https://pay.pesapal.com/v3"));
    assert_eq!(serde_json::to_string(&p).unwrap(), "\"pesapal\"");
}

#[tokio::test]
async fn one_token_serves_many_calls_even_concurrent_ones() {
    let (sims, client) = setup().await;
    let order = submit(&client, "TRN-MANY-1").await;
    let (a, b, c) =
        tokio::join!(client.ipn_list(), client.transaction_status(&order.order_tracking_id), client.ipn_list());
    a.unwrap();
    b.unwrap();
    c.unwrap();
    assert_eq!((received(&sims, "RequestToken"), sims.pesapal.tokens_issued()), (1, 1));
}

#[tokio::test]
async fn a_token_is_renewed_shortly_before_its_expiry_date_not_after_a_refusal() {
    let (sims, client) = setup().await;
    sims.pesapal.set_token_lifetime(Duration::from_secs(2));
    client.ipn_list().await.unwrap();
    client.ipn_list().await.unwrap();
    assert_eq!(sims.pesapal.tokens_issued(), 1, "a short token is reused while fresh");
    // The token's lifetime passing is the behaviour under test, not
    // synchronisation: renewal is due a quarter of its lifetime early.
    tokio::time::sleep(Duration::from_millis(1_600)).await;
    client.ipn_list().await.unwrap();
    assert_eq!(sims.pesapal.tokens_issued(), 2);
    assert_eq!(received(&sims, "GetIpnList"), 3, "no request went out with the old token");
}

#[tokio::test]
async fn a_refused_token_is_renewed_once_and_the_read_repeated() {
    let (sims, client) = setup().await;
    let order = submit(&client, "TRN-401-READ").await;
    sims.pesapal.expire_tokens();
    let status = client.transaction_status(&order.order_tracking_id).await.unwrap();
    assert_eq!(status.status, PaymentStatus::Invalid);
    assert_eq!(sims.pesapal.tokens_issued(), 2);
    assert_eq!(received(&sims, "GetTransactionStatus"), 2, "one refused, one repeated");

    // Refused again after signing in again: an error, not a loop.
    sims.pesapal.faults.inject("GetTransactionStatus", Fault::Status { status: 401 });
    sims.pesapal.faults.inject("GetTransactionStatus", Fault::Status { status: 401 });
    let e = client.transaction_status(&order.order_tracking_id).await.unwrap_err();
    assert!(matches!(e, PesapalError::Unauthorized { http_status: 401, .. }), "{e:?}");
    assert_eq!(e.code(), "unauthorized");
    assert_eq!(received(&sims, "GetTransactionStatus"), 4);
    assert_eq!(sims.pesapal.tokens_issued(), 3);
}

#[tokio::test]
async fn a_refused_token_on_submit_is_a_plain_failure_and_the_next_call_signs_in_again() {
    let (sims, client) = setup().await;
    client.ipn_list().await.unwrap();
    sims.pesapal.expire_tokens();
    let (cb, address) = (callback(), sample_address());
    let e = client.submit_order(&sample_order("TRN-401-1", &cb, &address)).await.unwrap_err();
    assert!(matches!(e, PesapalError::Unauthorized { http_status: 401, .. }), "{e:?}");
    assert!(!e.outcome_unknown());
    assert_eq!(received(&sims, "SubmitOrderRequest"), 1, "sent once, not repeated after signing in");
    assert_eq!(sims.pesapal.tokens_issued(), 1);
    assert!(sims.pesapal.order_by_reference("TRN-401-1").is_none());

    submit(&client, "TRN-401-2").await;
    assert_eq!(sims.pesapal.tokens_issued(), 2);
    assert_eq!(received(&sims, "SubmitOrderRequest"), 2);
}

#[tokio::test]
async fn wrong_credentials_come_back_as_the_error_object_with_http_200() {
    let sims = Simulators::start(0).await.unwrap();
    let wrong = Credentials { consumer_secret: "not-the-secret-123".into(), ..creds() };
    let client = client_for(&sims, wrong, Duration::from_secs(2));
    let e = client.ipn_list().await.unwrap_err();
    match &e {
        PesapalError::SignIn(inner) => {
            assert!(matches!(**inner, PesapalError::Refused { http_status: 200, .. }), "{inner:?}")
        }
        other => panic!("{other:?}"),
    }
    let api = e.api_error().unwrap();
    assert_eq!((api.error_type.as_str(), api.code.as_str()), ("api_error", "invalid_consumer_key_or_secret_provided"));
    assert_eq!(e.code(), "credentials_rejected");
    assert!(!e.outcome_unknown() && !e.is_unreachable());
    assert!(!e.to_string().contains("not-the-secret-123"), "{e}");
    assert_eq!((received(&sims, "GetIpnList"), sims.pesapal.tokens_issued()), (0, 0));

    // The answer itself, as the document's error object.
    let url = format!("{}/api/Auth/RequestToken", sims.base_url(ProviderId::Pesapal));
    let response = browser()
        .post(&url)
        .header("Accept", "application/json")
        .json(&serde_json::json!({"consumer_key": "xxxxx", "consumer_secret": "xxxxxx"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["token"], serde_json::Value::Null);
    assert_eq!(body["error"]["type"], "api_error");
    assert_eq!(body["error"]["code"], "invalid_consumer_key_or_secret_provided");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn the_simulator_answers_as_documented_and_insists_on_the_json_headers() {
    let sims = Simulators::start(0).await.unwrap();
    let url = format!("{}/api/Auth/RequestToken", sims.base_url(ProviderId::Pesapal));
    let sample = serde_json::json!({
        "consumer_key": TRAINING_PESAPAL_CONSUMER_KEY,
        "consumer_secret": TRAINING_PESAPAL_CONSUMER_SECRET,
    });
    let ok = browser().post(&url).header("Accept", "application/json").json(&sample).send().await.unwrap();
    let body: serde_json::Value = ok.json().await.unwrap();
    assert_eq!((body["status"].as_str(), body["error"].is_null()), (Some("200"), true));
    assert_eq!(body["message"], "Request processed successfully");
    let expiry = body["expiryDate"].as_str().unwrap();
    // "2021-08-26T12:29:30.5177702Z": seven decimals and Z, about five minutes ahead.
    assert_eq!((expiry.len(), expiry.ends_with('Z')), (28, true), "{expiry}");
    let ahead = kaunta_core::providers::pesapal::parse_utc(expiry).unwrap() - chrono::Utc::now();
    assert!(ahead > chrono::TimeDelta::seconds(290) && ahead <= chrono::TimeDelta::seconds(300), "{ahead}");

    let no_accept = browser().post(&url).json(&sample).send().await.unwrap();
    assert_eq!(no_accept.status().as_u16(), 406);
    let no_type = browser().post(&url).header("Accept", "application/json").body(sample.to_string()).send().await;
    assert_eq!(no_type.unwrap().status().as_u16(), 415);
    let list = format!("{}/api/URLSetup/GetIpnList", sims.base_url(ProviderId::Pesapal));
    let no_token = browser().get(&list).header("Accept", "application/json").send().await.unwrap();
    assert_eq!(no_token.status().as_u16(), 401);
}

#[tokio::test]
async fn ipns_are_registered_and_listed_as_documented() {
    let (sims, client) = setup().await;
    let list = client.ipn_list().await.unwrap();
    let got: Vec<(&str, &str)> = list.iter().map(|e| (e.url.as_str(), e.ipn_id.as_str())).collect();
    assert_eq!(got, SAMPLE_IPNS.iter().map(|(url, _, id)| (*url, *id)).collect::<Vec<_>>());
    assert_eq!(list[0].created_date, Some("2022-03-03T17:29:03.7208266Z".parse().unwrap()));

    let get_url = Url::parse("https://www.myapplication.com/ipn").unwrap();
    let registered = client.register_ipn(&get_url, IpnNotificationType::Get).await.unwrap();
    assert_eq!(registered.url, "https://www.myapplication.com/ipn");
    assert_eq!(registered.notification_type, IpnNotificationType::Get);
    assert!(registered.active);
    assert_eq!(registered.ipn_status_description, "Active");
    assert!(registered.created_date.is_some_and(|d| (chrono::Utc::now() - d).num_seconds().abs() < 60));
    let post_url = Url::parse("https://ipn.example.com/pesapal").unwrap();
    let posted = client.register_ipn(&post_url, IpnNotificationType::Post).await.unwrap();
    assert_eq!(posted.notification_type, IpnNotificationType::Post);
    assert_ne!(posted.ipn_id, registered.ipn_id);

    let ids: Vec<String> = client.ipn_list().await.unwrap().into_iter().map(|e| e.ipn_id).collect();
    assert_eq!(ids.len(), 4);
    assert!(ids.contains(&registered.ipn_id) && ids.contains(&posted.ipn_id));

    // A registered id is a valid notification_id; an unregistered one is refused.
    let (cb, address) = (callback(), sample_address());
    let with_new = OrderRequest { notification_id: &posted.ipn_id, ..sample_order("TRN-IPN-1", &cb, &address) };
    client.submit_order(&with_new).await.unwrap();
    let unknown = "fe078e53-78da-4a83-aa89-e7ded5c456e6";
    let e = client
        .submit_order(&OrderRequest { notification_id: unknown, ..sample_order("TRN-IPN-2", &cb, &address) })
        .await
        .unwrap_err();
    assert!(matches!(e, PesapalError::Refused { http_status: 200, .. }), "{e:?}");
    assert_eq!((e.code(), e.outcome_unknown()), ("ipn_not_registered", false));
    assert!(sims.pesapal.order_by_reference("TRN-IPN-2").is_none());
}

#[tokio::test]
async fn the_documented_order_is_paid_on_the_checkout_page_and_the_customer_sent_back() {
    let (sims, client) = setup().await;
    let order = submit(&client, "AA1122-3344ZZ").await;
    assert_eq!(order.merchant_reference, "AA1122-3344ZZ");
    assert!(!order.order_tracking_id.is_empty());
    assert_eq!(order.redirect_url.path(), "/pesapal/pesapaliframe/PesapalIframe3/Index/");
    assert_eq!(order.redirect_url.query(), Some(format!("OrderTrackingId={}", order.order_tracking_id).as_str()));

    // What Pesapal received: the document's fields, the amount a decimal of the Money.
    let sim_order = sims.pesapal.order(&order.order_tracking_id).unwrap();
    assert_eq!(sim_order.amount, kes(10_000));
    assert_eq!(sim_order.description, "Payment description goes here");
    assert_eq!(sim_order.phone_number.as_deref(), Some("0723000456"));
    assert_eq!(sim_order.email_address.as_deref(), Some("john.doe@example.com"));

    let pending = client.transaction_status(&order.order_tracking_id).await.unwrap();
    assert_eq!((pending.status, pending.status_code, pending.is_final()), (PaymentStatus::Invalid, 0, false));
    assert_eq!((pending.amount, pending.merchant_reference.as_str()), (Some(kes(10_000)), "AA1122-3344ZZ"));

    let page = browser().get(order.redirect_url.clone()).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().await.unwrap();
    for needle in ["id=\"pay\"", "id=\"fail\"", "id=\"cancel\"", "AA1122-3344ZZ", "KES 100.00"] {
        assert!(html.contains(needle), "{needle} in {html}");
    }
    assert!(!html.to_ascii_lowercase().contains("<script"));

    let location = press(&order.redirect_url, "pay").await;
    assert_eq!(
        location.as_str(),
        format!(
            "https://www.myapplication.com/response-page?OrderTrackingId={}&OrderMerchantReference=AA1122-3344ZZ\
             &OrderNotificationType=CALLBACKURL",
            order.order_tracking_id
        )
    );
    let n = Notification::from_callback(&callback(), &location).unwrap();
    assert_eq!(
        (n.order_tracking_id.as_str(), n.notification_type),
        (order.order_tracking_id.as_str(), NotificationType::CallbackUrl)
    );

    let paid = client.transaction_status(&n.order_tracking_id).await.unwrap();
    assert_eq!((paid.status, paid.status_code, paid.is_final()), (PaymentStatus::Completed, 1, true));
    assert_eq!(paid.payment_status_description, "Completed");
    assert_eq!(paid.payment_method, "MPESA");
    assert_eq!(paid.payment_account, "0723***456");
    assert!(!paid.confirmation_code.is_empty());
    assert_eq!(paid.confirms("AA1122-3344ZZ", kes(10_000)), Ok(()));
    assert!(paid.confirms("AA1122-3344ZZ", kes(10_001)).is_err());
    assert!(paid.call_back_url.unwrap().starts_with("https://www.myapplication.com/response-page?OrderTrackingId="));

    let ipns = sims.pesapal.ipn_calls();
    assert_eq!(ipns.len(), 1);
    assert_eq!((ipns[0].url.as_str(), ipns[0].method), ("https://www.myapplication.com/ipn", "GET"));
    assert_eq!(ipns[0].order_tracking_id, order.order_tracking_id);
}

#[tokio::test]
async fn fail_and_cancel_send_the_customer_back_and_only_fail_settles() {
    let (sims, client) = setup().await;
    let failing = submit(&client, "TRN-FAIL-1").await;
    let back = press(&failing.redirect_url, "fail").await;
    assert_eq!(back.path(), "/response-page");
    assert_eq!(Notification::from_callback(&callback(), &back).unwrap().merchant_reference, "TRN-FAIL-1");
    let failed = client.transaction_status(&failing.order_tracking_id).await.unwrap();
    assert_eq!((failed.status, failed.status_code, failed.is_final()), (PaymentStatus::Failed, 2, true));
    assert_eq!(failed.payment_status_description, "Failed");
    assert_eq!(failed.description, SAMPLE_FAILED_DESCRIPTION);
    assert_eq!((failed.payment_method.as_str(), failed.payment_account.as_str()), ("Visa", "476173**0010"));

    let cancelling = submit(&client, "TRN-CANCEL-1").await;
    let back = press(&cancelling.redirect_url, "cancel").await;
    let n = Notification::from_callback(&callback(), &back).unwrap();
    assert_eq!((n.merchant_reference.as_str(), n.notification_type), ("TRN-CANCEL-1", NotificationType::CallbackUrl));
    let still = client.transaction_status(&cancelling.order_tracking_id).await.unwrap();
    assert_eq!((still.status, still.is_final()), (PaymentStatus::Invalid, false));

    // With a cancellation_url, Cancel goes there instead.
    let (cb, address) = (callback(), sample_address());
    let cancel_url = Url::parse("https://www.myapplication.com/cancelled?till=1").unwrap();
    let with_cancel =
        OrderRequest { cancellation_url: Some(&cancel_url), ..sample_order("TRN-CANCEL-2", &cb, &address) };
    let order = client.submit_order(&with_cancel).await.unwrap();
    let back = press(&order.redirect_url, "cancel").await;
    assert_eq!(back.path(), "/cancelled");
    let pairs: Vec<(String, String)> = back.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    assert_eq!(pairs[0], ("till".to_string(), "1".to_string()));
    assert_eq!(pairs[3], ("OrderNotificationType".to_string(), "CALLBACKURL".to_string()));
    assert_eq!(sims.pesapal.order(&order.order_tracking_id).unwrap().status, PaymentStatus::Invalid);
}

#[tokio::test]
async fn mobile_money_reads_pending_for_a_while_then_completes_and_can_be_reversed() {
    let (sims, client) = setup().await;
    let order = submit(&client, "TRN-MPESA-1").await;
    assert!(sims.pesapal.complete(&order.order_tracking_id));
    assert!(sims.pesapal.hold_pending(&order.order_tracking_id, 2));
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(client.transaction_status(&order.order_tracking_id).await.unwrap().status);
    }
    assert_eq!(seen, [PaymentStatus::Invalid, PaymentStatus::Invalid, PaymentStatus::Completed]);

    assert!(sims.pesapal.reverse(&order.order_tracking_id));
    let reversed = client.transaction_status(&order.order_tracking_id).await.unwrap();
    assert_eq!((reversed.status, reversed.status_code, reversed.is_final()), (PaymentStatus::Reversed, 3, true));

    // A default hold applies to every order settled afterwards, on the page too.
    sims.pesapal.set_default_pending_reads(1);
    let other = submit(&client, "TRN-MPESA-2").await;
    press(&other.redirect_url, "pay").await;
    assert_eq!(client.transaction_status(&other.order_tracking_id).await.unwrap().status, PaymentStatus::Invalid);
    assert_eq!(client.transaction_status(&other.order_tracking_id).await.unwrap().status, PaymentStatus::Completed);

    let failing = submit(&client, "TRN-MPESA-3").await;
    assert!(sims.pesapal.fail(&failing.order_tracking_id));
    assert!(!sims.pesapal.complete("no-such-order"));
    assert_eq!(client.transaction_status(&failing.order_tracking_id).await.unwrap().status, PaymentStatus::Invalid);
    assert_eq!(client.transaction_status(&failing.order_tracking_id).await.unwrap().status, PaymentStatus::Failed);
}

#[tokio::test]
async fn the_status_of_an_unknown_order_is_pesapals_error_object() {
    let (_sims, client) = setup().await;
    let e = client.transaction_status("7e6b62d9-883e-440f-a63e-e1105bbfadc3").await.unwrap_err();
    assert!(matches!(e, PesapalError::Refused { http_status: 200, .. }), "{e:?}");
    assert_eq!(e.code(), "not_found");
    // GetTransactionStatus spells the kind `error_type`.
    assert_eq!(e.api_error().unwrap().error_type, "api_error");
}

#[tokio::test]
async fn a_merchant_reference_is_accepted_once() {
    let (sims, client) = setup().await;
    let first = submit(&client, "TRN-ONCE-1").await;
    let (cb, address) = (callback(), sample_address());
    let e = client.submit_order(&sample_order("TRN-ONCE-1", &cb, &address)).await.unwrap_err();
    assert!(matches!(e, PesapalError::Refused { http_status: 200, .. }), "{e:?}");
    assert_eq!((e.code(), e.outcome_unknown()), ("duplicate_reference", false));
    assert_eq!(e.api_error().unwrap().code, "duplicate_order_reference");
    assert_eq!(sims.pesapal.submission_counts().get("TRN-ONCE-1"), Some(&2));
    assert_eq!(sims.pesapal.order_by_reference("TRN-ONCE-1").unwrap().order_tracking_id, first.order_tracking_id);
    assert_eq!(sims.pesapal.orders().len(), 1);
}

#[tokio::test]
async fn orders_outside_the_documents_limits_are_refused_before_sending() {
    let (sims, client) = setup().await;
    let cb = callback();
    let address = sample_address();
    let nobody = BillingAddress { first_name: Some("John".into()), ..BillingAddress::default() };
    let long_reference = "R".repeat(51);
    let long_description = "d".repeat(101);
    let base = sample_order("TRN-BAD-1", &cb, &address);
    let cases = [
        (OrderRequest { merchant_reference: &long_reference, ..base.clone() }, "invalid_input"),
        (OrderRequest { description: &long_description, ..base.clone() }, "invalid_input"),
        (OrderRequest { billing_address: &nobody, ..base.clone() }, "invalid_input"),
        (OrderRequest { amount: kes(0), ..base.clone() }, "invalid_amount"),
        (OrderRequest { notification_id: "", ..base.clone() }, "invalid_input"),
    ];
    for (order, code) in cases {
        let e = client.submit_order(&order).await.unwrap_err();
        assert_eq!((e.code(), e.outcome_unknown()), (code, false), "{e}");
    }
    assert_eq!((received(&sims, "RequestToken"), received(&sims, "SubmitOrderRequest")), (0, 0));
}

/// Each fault on SubmitOrderRequest: whether the outcome is unknown, and
/// whether the simulator really created the order. Sent once every time.
#[tokio::test]
async fn faults_on_submit_are_classified_and_nothing_is_sent_twice() {
    let cases = [
        (Fault::Status { status: 500 }, Some(true), false),
        (Fault::Status { status: 503 }, Some(true), false),
        (Fault::HtmlErrorPage { status: 502 }, Some(true), false),
        (Fault::MalformedJson, Some(true), true),
        (Fault::DropBeforeApply, Some(true), false),
        (Fault::DropAfterApply, Some(true), true),
        (Fault::HangBeforeApply, Some(true), false),
        (Fault::HangAfterApply, Some(true), true),
        (Fault::RateLimited { retry_after: 0 }, Some(false), false),
        (Fault::Status { status: 400 }, Some(false), false),
        (Fault::Latency { ms: 50 }, None, true),
    ];
    for (fault, unknown, applied) in cases {
        let sims = Simulators::start(0).await.unwrap();
        let client = client_for(&sims, creds(), Duration::from_secs(1));
        sims.pesapal.faults.inject("SubmitOrderRequest", fault.clone());
        let (cb, address) = (callback(), sample_address());
        match (client.submit_order(&sample_order("TRN-FAULT", &cb, &address)).await, unknown) {
            (Ok(order), None) => assert_eq!(order.merchant_reference, "TRN-FAULT"),
            (Err(e), Some(unknown)) => {
                assert_eq!(e.outcome_unknown(), unknown, "{fault:?}: {e:?}");
                assert!(!e.is_unreachable(), "{fault:?}");
            }
            (got, _) => panic!("{fault:?}: {got:?}"),
        }
        assert_eq!(received(&sims, "SubmitOrderRequest"), 1, "{fault:?}: sent once");
        assert_eq!(sims.pesapal.order_by_reference("TRN-FAULT").is_some(), applied, "{fault:?}");
    }
}

/// An order whose sign-in failed was never sent: not unknown, whatever
/// happened to RequestToken.
#[tokio::test]
async fn a_failed_sign_in_before_submit_is_never_unknown() {
    for fault in [Fault::DropAfterApply, Fault::Status { status: 500 }, Fault::MalformedJson] {
        let (sims, client) = setup().await;
        sims.pesapal.faults.inject("RequestToken", fault.clone());
        let (cb, address) = (callback(), sample_address());
        let e = client.submit_order(&sample_order("TRN-SIGNIN", &cb, &address)).await.unwrap_err();
        assert!(matches!(e, PesapalError::SignIn(_)), "{fault:?}: {e:?}");
        assert!(!e.outcome_unknown(), "{fault:?}");
        assert_eq!(received(&sims, "SubmitOrderRequest"), 0, "{fault:?}");
    }
}

#[tokio::test]
async fn a_closed_port_is_unreachable_not_unknown() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let base = Url::parse(&format!("http://127.0.0.1:{port}/pesapal")).unwrap();
    let client = Client::new(base, creds());
    let (cb, address) = (callback(), sample_address());
    let e = client.submit_order(&sample_order("TRN-CLOSED", &cb, &address)).await.unwrap_err();
    assert!(e.is_unreachable(), "{e:?}");
    assert!(!e.outcome_unknown());
    assert_eq!(e.code(), "unreachable");
}

/// The same controls over HTTP, for tests that run the till in another process.
#[tokio::test]
async fn orders_can_be_settled_over_the_simulators_control_routes() {
    let (sims, client) = setup().await;
    let order = submit(&client, "TRN-CONTROL-1").await;
    let control = format!("http://{}/__sim/pesapal/orders", sims.addr());
    let http = browser();
    let listed: serde_json::Value = http.get(&control).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed[0]["merchant_reference"], "TRN-CONTROL-1");
    assert_eq!(listed[0]["status"], "INVALID");

    let url = |action: &str| format!("{control}/{}/{action}", order.order_tracking_id);
    let done = http.post(url("complete")).send().await.unwrap();
    assert_eq!(done.status().as_u16(), 200);
    assert_eq!(done.json::<serde_json::Value>().await.unwrap()["status"], "COMPLETED");
    assert_eq!(http.post(url("fail")).send().await.unwrap().status().as_u16(), 409, "a paid order cannot fail");
    assert_eq!(http.post(url("hold?reads=1")).send().await.unwrap().status().as_u16(), 200);
    assert_eq!(client.transaction_status(&order.order_tracking_id).await.unwrap().status, PaymentStatus::Invalid);
    assert_eq!(client.transaction_status(&order.order_tracking_id).await.unwrap().status, PaymentStatus::Completed);
    assert_eq!(http.post(url("reverse")).send().await.unwrap().status().as_u16(), 200);
    assert_eq!(sims.pesapal.order(&order.order_tracking_id).unwrap().status, PaymentStatus::Reversed);
    let missing = http.post(format!("{control}/no-such-order/complete")).send().await.unwrap();
    assert_eq!(missing.status().as_u16(), 404);
}
