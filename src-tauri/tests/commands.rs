//! The Tauri commands through Tauri's mock runtime: the same handlers,
//! capabilities and IPC serialisation as the window, without a display.

use kaunta_core::config::Config;
use kaunta_core::{Till, TillOptions};
use kaunta_lib::AppState;
use serde_json::{Value, json};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, get_ipc_response, mock_builder};
use tauri::webview::InvokeRequest;
use tauri::{App, WebviewWindow, WebviewWindowBuilder};

struct Harness {
    _dir: tempfile::TempDir,
    _app: App<tauri::test::MockRuntime>,
    main: WebviewWindow<tauri::test::MockRuntime>,
}

fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.receipt.print = false;
    config.save(dir.path()).unwrap();
    let options = TillOptions { keyring_service: format!("kaunta-cmd-test-{}", std::process::id()) };
    // The simulators must live on Tauri's runtime, where the commands run.
    let till = tauri::async_runtime::block_on(Till::open(dir.path(), options)).unwrap();
    let app = kaunta_lib::setup(mock_builder(), AppState::new(till)).build(tauri::generate_context!()).unwrap();
    let main = WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap();
    Harness { _dir: dir, _app: app, main }
}

fn call(window: &WebviewWindow<tauri::test::MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    get_ipc_response(
        window,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|b| b.deserialize::<Value>().unwrap())
}

#[test]
fn a_cashier_validates_redeems_and_reprints_over_ipc() {
    let h = harness();
    let info = call(&h.main, "app_info", json!({})).unwrap();
    assert_eq!(info["training"], true);
    assert_eq!(info["cashier"], Value::Null);
    assert_eq!(info["providers"][0]["id"], "pesavoucher");

    let info = call(&h.main, "sign_in", json!({"name": "  Amina "})).unwrap();
    assert_eq!(info["cashier"], "Amina");

    let v = call(&h.main, "validate_voucher", json!({"provider": "pesavoucher", "code": "trn-active-1200"})).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["amount"], json!({"minor": 120050, "currency": "KES", "display": "KES 1,200.50"}));

    let r = call(&h.main, "redeem_voucher", json!({"provider": "pesavoucher", "code": "TRN-ACTIVE-1200"})).unwrap();
    assert_eq!(r["state"], "completed");
    assert_eq!(r["message"], "KES 1,200.50 redeemed: hand over the goods");
    assert!(!r.to_string().contains("TRN-ACTIVE-1200"), "the full code never crosses IPC in a result: {r}");

    let recent = call(&h.main, "recent_transactions", json!({})).unwrap();
    assert_eq!(recent.as_array().unwrap().len(), 1);
    assert_eq!(recent[0]["state"], "completed");
    assert_eq!(recent[0]["code_masked"], "•••-••••••-1200");

    let id = r["transaction_id"].as_str().unwrap();
    let reprint = call(&h.main, "reprint_receipt", json!({"id": id})).unwrap();
    assert!(reprint["path"].as_str().unwrap().ends_with("-reprint-1.pdf"), "{reprint}");

    let again =
        call(&h.main, "redeem_voucher", json!({"provider": "pesavoucher", "code": "TRN-ACTIVE-1200"})).unwrap_err();
    assert_eq!(again["code"], "already_redeemed");
}

#[test]
fn errors_cross_ipc_as_a_code_and_a_plain_message() {
    let h = harness();
    let e =
        call(&h.main, "validate_voucher", json!({"provider": "pesavoucher", "code": "TRN-ACTIVE-1200"})).unwrap_err();
    assert_eq!(e["code"], "no_cashier");
    assert!(e["message"].as_str().unwrap().starts_with("Sign in"));

    call(&h.main, "sign_in", json!({"name": "Amina"})).unwrap();
    let e = call(&h.main, "validate_voucher", json!({"provider": "pesavoucher", "code": "<b>x</b>"})).unwrap_err();
    assert_eq!(e, json!({"code": "invalid_code", "message": "A voucher code has only letters, digits and dashes"}));
    let e = call(&h.main, "validate_voucher", json!({"provider": "mpesa", "code": "TRN-ACTIVE-1200"})).unwrap_err();
    assert_eq!(e["code"], "unknown_provider");
    let e = call(&h.main, "sign_in", json!({"name": "\u{7}"})).unwrap_err();
    assert_eq!(e["code"], "invalid_name");

    let v = call(&h.main, "validate_voucher", json!({"provider": "pesavoucher", "code": "TRN-OTHERSHOP-1"})).unwrap();
    assert_eq!(v["valid"], false);
    assert_eq!(v["reasons"][0]["code"], "other_merchant");
    assert_eq!(v["reasons"][0]["message"], "This voucher belongs to another shop and cannot be used here.");
}

#[test]
fn a_window_without_the_main_capability_can_call_nothing() {
    let h = harness();
    let other = WebviewWindowBuilder::new(&h._app, "checkout", Default::default()).build().unwrap();
    for cmd in ["app_info", "sign_in", "validate_voucher", "redeem_voucher", "credentials_status"] {
        let e = call(&other, cmd, json!({"name": "x", "provider": "pesavoucher", "code": "TRN-ACTIVE-1200"}));
        assert!(e.is_err(), "{cmd} answered a window with no capability: {e:?}");
    }
    assert!(call(&h.main, "app_info", json!({})).is_ok());
}

#[test]
fn saved_credentials_are_never_echoed() {
    let h = harness();
    call(&h.main, "sign_in", json!({"name": "Manager"})).unwrap();
    let secret = "do-not-echo-9f2c";
    let answer = call(
        &h.main,
        "set_credentials",
        json!({"provider": "pesavoucher", "values": {"api_key": "key-1", "api_secret": secret}}),
    );
    let text = format!("{answer:?}");
    assert!(!text.contains(secret) && !text.contains("key-1"), "{text}");
    let status = answer.expect("the test environment runs a Secret Service");
    assert_eq!(status[0]["configured"], true);

    let bad = call(&h.main, "set_credentials", json!({"provider": "pesavoucher", "values": {"api_key": "k\n"}}));
    assert_eq!(bad.unwrap_err()["code"], "credentials_invalid");
}

#[test]
fn a_telesend_gift_is_claimed_and_redeemed_over_ipc() {
    let h = harness();
    call(&h.main, "sign_in", json!({"name": "Amina"})).unwrap();
    let claim = call(&h.main, "telesend_claim", json!({"code": "TS-GIFT-1000", "amount": "250.50"})).unwrap();
    assert_eq!(claim["amount"]["display"], "ETB 250.50");
    let sms = claim["training_sms_code"].as_str().expect("training mode shows the SMS code").to_string();

    let wrong = call(&h.main, "telesend_redeem", json!({"code": "TS-GIFT-1000", "verificationCode": "1"})).unwrap_err();
    assert_eq!(wrong["code"], "wrong_verification_code");
    let r = call(&h.main, "telesend_redeem", json!({"code": "TS-GIFT-1000", "verificationCode": sms})).unwrap();
    assert_eq!(r["state"], "completed");
    assert_eq!(r["provider"], "telesend");
    assert_eq!(r["message"], "ETB 250.50 redeemed: hand over the goods");

    let anon = call(&h.main, "telesend_redeem", json!({"code": "TS-ANON-500", "verificationCode": null})).unwrap();
    assert_eq!(anon["state"], "completed");
    assert_eq!(call(&h.main, "telesend_cancel", json!({"code": "TS-GIFT-2500"})).unwrap(), json!(false));
    let d = call(&h.main, "telesend_denominations", json!({})).unwrap();
    assert_eq!(d[0]["amount"]["currency"], "ETB");

    let e = call(&h.main, "validate_voucher", json!({"provider": "telesend", "code": "TS-GIFT-2500"})).unwrap_err();
    assert_eq!(e["code"], "wrong_flow");
}

#[test]
fn a_giftpesa_balance_is_redeemed_over_ipc() {
    let h = harness();
    call(&h.main, "sign_in", json!({"name": "Amina"})).unwrap();
    let settings = call(&h.main, "giftpesa_settings", json!({})).unwrap();
    assert_eq!(settings, json!({"till_number": "123456", "certificate_imported": false}));
    let input = json!({"name": "Jane Doe", "phone": "0720123456", "amount": "300", "till": null, "remarks": null});
    let r = call(&h.main, "giftpesa_redeem", json!({"input": input})).unwrap();
    assert_eq!(r["state"], "completed");
    assert_eq!(r["provider"], "giftpesa");
    let bad = json!({"name": "Jane Doe", "phone": "0720123456", "amount": "1.5"});
    assert_eq!(call(&h.main, "giftpesa_redeem", json!({"input": bad})).unwrap_err()["code"], "invalid_amount");
    let merchants = call(&h.main, "giftpesa_merchants", json!({})).unwrap();
    assert_eq!(merchants[1]["Category"]["Label"], "Cafes and Restaurants");

    let e = call(&h.main, "giftpesa_import_certificate", json!({"contents": "not a certificate"})).unwrap_err();
    assert_eq!(e["code"], "certificate");
    let cert = include_str!("../core/src/training/giftpesa/training.crt");
    let s = call(&h.main, "giftpesa_import_certificate", json!({"contents": cert})).unwrap();
    assert_eq!(s["certificate_imported"], true);
}
