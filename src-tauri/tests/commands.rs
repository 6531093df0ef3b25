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
    /// The training simulators' control address (`/__sim/...`).
    sim: std::net::SocketAddr,
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
    let sim = till.simulators().expect("training mode").addr();
    let app = kaunta_lib::setup(mock_builder(), AppState::new(till)).build(tauri::generate_context!()).unwrap();
    let main = WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap();
    Harness { sim, _dir: dir, _app: app, main }
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

const PIN: &str = "4821";

/// A fresh till: `name` becomes its first manager and is signed in.
fn sign_in(h: &Harness, name: &str) {
    call(&h.main, "create_first_manager", json!({"name": name, "pin": PIN})).unwrap();
}

#[test]
fn a_cashier_validates_redeems_and_reprints_over_ipc() {
    let h = harness();
    let info = call(&h.main, "app_info", json!({})).unwrap();
    assert_eq!(info["training"], true);
    assert_eq!(info["cashier"], Value::Null);
    assert_eq!(info["providers"][0]["id"], "pesavoucher");

    assert_eq!(info["needs_first_manager"], true);
    let info = call(&h.main, "create_first_manager", json!({"name": "  Amina ", "pin": "4821"})).unwrap();
    assert_eq!(info["cashier"], "Amina");
    assert_eq!(info["role"], "manager");
    assert_eq!(info["needs_first_manager"], false);

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

    let e = call(&h.main, "create_first_manager", json!({"name": "\u{7}", "pin": "4821"})).unwrap_err();
    assert_eq!(e["code"], "invalid_name");
    let e = call(&h.main, "create_first_manager", json!({"name": "Amina", "pin": "12"})).unwrap_err();
    assert_eq!(e, json!({"code": "invalid_pin", "message": "A PIN is 4 to 12 digits"}));
    sign_in(&h, "Amina");
    let e = call(&h.main, "validate_voucher", json!({"provider": "pesavoucher", "code": "<b>x</b>"})).unwrap_err();
    assert_eq!(e, json!({"code": "invalid_code", "message": "A voucher code has only letters, digits and dashes"}));
    let e = call(&h.main, "validate_voucher", json!({"provider": "mpesa", "code": "TRN-ACTIVE-1200"})).unwrap_err();
    assert_eq!(e["code"], "unknown_provider");

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
    sign_in(&h, "Manager");
    call(&h.main, "manager_unlock", json!({"name": "Manager", "pin": PIN})).unwrap();
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
    sign_in(&h, "Amina");
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
    sign_in(&h, "Amina");
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
    assert_eq!(e["code"], "manager_required", "importing a certificate is a manager's job");
    call(&h.main, "manager_unlock", json!({"name": "Amina", "pin": PIN})).unwrap();
    let e = call(&h.main, "giftpesa_import_certificate", json!({"contents": "not a certificate"})).unwrap_err();
    assert_eq!(e["code"], "certificate");
    let cert = include_str!("../core/src/training/giftpesa/training.crt");
    let s = call(&h.main, "giftpesa_import_certificate", json!({"contents": cert})).unwrap();
    assert_eq!(s["certificate_imported"], true);
}

#[test]
fn pins_are_checked_locked_after_five_wrong_and_never_echoed() {
    let h = harness();
    sign_in(&h, "Njeri");
    call(&h.main, "manager_unlock", json!({"name": "Njeri", "pin": PIN})).unwrap();
    let juma = call(&h.main, "staff_add", json!({"name": "Juma", "role": "cashier", "pin": "1357"})).unwrap();
    assert_eq!(
        juma,
        json!({"name": "Juma", "role": "cashier", "active": true, "locked_until": null,
        "created_at": juma["created_at"], "created_by": "Njeri"})
    );
    call(&h.main, "sign_out", json!({})).unwrap();

    for remaining in (1..=4).rev() {
        let e = call(&h.main, "sign_in", json!({"name": "Juma", "pin": "9999"})).unwrap_err();
        assert_eq!(e["code"], "wrong_pin");
        assert!(e["message"].as_str().unwrap().contains(&format!("{remaining} more tries")), "{e}");
        assert!(!e.to_string().contains("9999"));
    }
    let e = call(&h.main, "sign_in", json!({"name": "Juma", "pin": "9999"})).unwrap_err();
    assert_eq!(e["code"], "pin_locked");
    // Locked: the right PIN is refused too, until a manager resets it.
    assert_eq!(call(&h.main, "sign_in", json!({"name": "Juma", "pin": "1357"})).unwrap_err()["code"], "pin_locked");
    let info = call(&h.main, "app_info", json!({})).unwrap();
    assert_eq!(info["cashier"], Value::Null);

    call(&h.main, "sign_in", json!({"name": "njeri", "pin": PIN})).unwrap();
    call(&h.main, "manager_unlock", json!({"name": "Njeri", "pin": PIN})).unwrap();
    call(&h.main, "staff_change", json!({"name": "Juma", "change": {"pin": "2468"}})).unwrap();
    call(&h.main, "sign_out", json!({})).unwrap();
    let info = call(&h.main, "sign_in", json!({"name": "juma", "pin": "2468"})).unwrap();
    assert_eq!((info["cashier"].as_str(), info["role"].as_str()), (Some("Juma"), Some("cashier")));
}

#[test]
fn manager_work_needs_a_managers_pin() {
    let h = harness();
    sign_in(&h, "Njeri");
    // Signed in as a manager is not enough: the PIN opens the back office.
    let e = call(&h.main, "staff_list", json!({})).unwrap_err();
    assert_eq!(e["code"], "manager_required");
    call(&h.main, "manager_unlock", json!({"name": "Njeri", "pin": PIN})).unwrap();
    call(&h.main, "staff_add", json!({"name": "Juma", "role": "cashier", "pin": "1357"})).unwrap();
    assert_eq!(call(&h.main, "staff_list", json!({})).unwrap().as_array().unwrap().len(), 2);
    let info = call(&h.main, "manager_lock", json!({})).unwrap();
    assert_eq!(info["manager"], Value::Null);

    // A cashier's own PIN does not approve, and signing out closes everything.
    call(&h.main, "sign_out", json!({})).unwrap();
    call(&h.main, "sign_in", json!({"name": "Juma", "pin": "1357"})).unwrap();
    let e = call(&h.main, "manager_unlock", json!({"name": "Juma", "pin": "1357"})).unwrap_err();
    assert_eq!(e["code"], "not_manager");
    for (cmd, args) in [
        ("set_credentials", json!({"provider": "pesavoucher", "values": {"api_key": "k", "api_secret": "s"}})),
        ("unknown_list", json!({})),
        ("refund_voucher", json!({"email": "a@example.com", "amount": "100"})),
        ("staff_add", json!({"name": "Eve", "role": "manager", "pin": "1111"})),
    ] {
        assert_eq!(call(&h.main, cmd, args).unwrap_err()["code"], "manager_required", "{cmd}");
    }
    // The last manager cannot be demoted.
    call(&h.main, "manager_unlock", json!({"name": "Njeri", "pin": PIN})).unwrap();
    let e = call(&h.main, "staff_change", json!({"name": "Njeri", "change": {"role": "cashier"}})).unwrap_err();
    assert_eq!(e["code"], "last_manager");
}

#[test]
fn a_refund_voucher_is_sent_and_a_lost_one_waits_in_the_queue() {
    let h = harness();
    sign_in(&h, "Njeri");
    call(&h.main, "manager_unlock", json!({"name": "Njeri", "pin": PIN})).unwrap();
    let e = call(&h.main, "refund_voucher", json!({"email": "amina@example.com", "amount": "49.99"})).unwrap_err();
    assert_eq!(e["code"], "amount_out_of_range");
    let e = call(&h.main, "refund_voucher", json!({"email": "not-an-email", "amount": "100"})).unwrap_err();
    assert_eq!(e["code"], "invalid_email");

    let r = call(
        &h.main,
        "refund_voucher",
        json!({"email": "amina@example.com", "amount": "750", "message": "Sorry about the blender"}),
    )
    .unwrap();
    assert_eq!(r["state"], "completed", "{r}");
    assert_eq!(r["amount"]["display"], "KES 750.00");
    assert_eq!(r["code_masked"], "a•••@example.com");
    assert!(r["provider_reference"].as_str().unwrap().starts_with("TRN"));
    assert!(!r.to_string().contains("TEST-NLV-0000000000"), "the new voucher's code stays masked: {r}");

    // The provider's balance runs out: a plain failure, nothing unknown.
    let e = call(&h.main, "refund_voucher", json!({"email": "amina@example.com", "amount": "120000"})).unwrap();
    assert_eq!(e["state"], "failed", "{e}");
    assert!(call(&h.main, "unknown_list", json!({})).unwrap().as_array().unwrap().is_empty());

    // The answer is lost after PesaVoucher created the voucher: unknown, in the queue.
    lose_next_answer(&h, "pesavoucher", "create_voucher");
    let lost = call(&h.main, "refund_voucher", json!({"email": "amina@example.com", "amount": "200"})).unwrap();
    assert_eq!(lost["state"], "unknown", "{lost}");
    assert!(lost["message"].as_str().unwrap().contains("before sending another"), "{lost}");
    // While it is unknown, the same refund cannot be sent again.
    let again = call(&h.main, "refund_voucher", json!({"email": "AMINA@example.com", "amount": "200.00"})).unwrap_err();
    assert_eq!(again["code"], "refund_in_flight", "{again}");
    let queue = call(&h.main, "unknown_list", json!({})).unwrap();
    assert_eq!(queue.as_array().unwrap().len(), 1);
    assert_eq!(queue[0]["id"], lost["transaction_id"]);
    // PesaVoucher has no status query for a created voucher: asking again settles nothing.
    let recheck = call(&h.main, "unknown_recheck", json!({})).unwrap();
    assert_eq!(recheck["settled"], json!([]));
    assert_eq!(recheck["remaining"].as_array().unwrap().len(), 1);

    let id = lost["transaction_id"].clone();
    let e = call(&h.main, "resolve_transaction", json!({"id": id, "outcome": "completed", "reason": " "})).unwrap_err();
    assert_eq!(e["code"], "invalid_resolution");
    let done = call(
        &h.main,
        "resolve_transaction",
        json!({"id": id, "outcome": "completed", "reason": "the voucher shows in the PesaVoucher dashboard"}),
    )
    .unwrap();
    assert_eq!(done["state"], "completed");
    assert!(call(&h.main, "unknown_list", json!({})).unwrap().as_array().unwrap().is_empty());
    let again =
        call(&h.main, "resolve_transaction", json!({"id": id, "outcome": "failed", "reason": "x"})).unwrap_err();
    assert_eq!(again["code"], "not_unknown");
}

/// Tells the training simulator to apply `endpoint`'s next request, then drop the connection.
fn lose_next_answer(h: &Harness, provider: &str, endpoint: &str) {
    let url = format!("http://{}/__sim/faults?provider={provider}", h.sim);
    let body = json!({"endpoint": endpoint, "fault": {"kind": "drop_after_apply"}});
    let sent = tauri::async_runtime::block_on(reqwest::Client::new().post(url).json(&body).send()).unwrap();
    assert!(sent.status().is_success());
}

/// A CSV as RFC 4180 spells it: quoted fields may hold commas, quotes
/// (doubled) and line breaks; records end with CRLF.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut records, mut record, mut field) = (Vec::new(), Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => assert_eq!(chars.next(), Some('\n'), "CR is always followed by LF"),
            (false, '\n') => panic!("a record ends with CRLF, not a bare LF"),
            (false, c) => field.push(c),
        }
        if !quoted && c == '\r' {
            record.push(std::mem::take(&mut field));
            records.push(std::mem::take(&mut record));
        }
    }
    assert!(record.is_empty() && field.is_empty(), "the last record ends with CRLF");
    records
}

#[test]
fn history_and_audit_are_for_managers_only() {
    let h = harness();
    sign_in(&h, "Njeri");
    let filter = json!({});
    for (cmd, args) in [
        ("history_page", json!({"filter": filter})),
        ("history_totals", json!({"filter": filter})),
        ("history_daily", json!({"filter": filter})),
        ("transaction_detail", json!({"id": "x"})),
        ("history_export_csv", json!({"filter": filter, "onProgress": "__CHANNEL__:1"})),
        ("audit_verify", json!({"onProgress": "__CHANNEL__:2"})),
    ] {
        assert_eq!(call(&h.main, cmd, args).unwrap_err()["code"], "manager_required", "{cmd}");
    }
}

#[test]
fn a_manager_filters_pages_and_exports_rows_that_match_the_ledger() {
    let h = harness();
    sign_in(&h, "Njeri");
    call(&h.main, "manager_unlock", json!({"name": "Njeri", "pin": PIN})).unwrap();
    let r = call(&h.main, "redeem_voucher", json!({"provider": "pesavoucher", "code": "TRN-ACTIVE-1200"})).unwrap();
    let pv_id = r["transaction_id"].as_str().unwrap().to_string();
    call(&h.main, "telesend_redeem", json!({"code": "TS-ANON-500", "verificationCode": null})).unwrap();
    let ledger = tauri::Manager::state::<AppState>(&h._app).till.ledger().clone();

    let today = chrono::Local::now().date_naive().to_string();
    let filter = json!({"since": today, "until": today});
    let first = call(&h.main, "history_page", json!({"filter": filter, "after": null, "limit": 1})).unwrap();
    assert_eq!(first["rows"].as_array().unwrap().len(), 1);
    assert_eq!(first["totals"]["count"], 2, "the totals are of the whole filter: {first}");
    let days = first["daily"]["days"].as_array().unwrap();
    assert_eq!(days.iter().map(|d| d["count"].as_i64().unwrap()).sum::<i64>(), 2, "{first}");
    assert_eq!(first["daily"]["first_day"], today.as_str());
    let second = call(&h.main, "history_page", json!({"filter": filter, "after": first["next"], "limit": 1})).unwrap();
    assert_eq!(second["rows"].as_array().unwrap().len(), 1);
    assert_eq!(second["next"], Value::Null);
    assert!(second.get("totals").is_none() && second.get("daily").is_none(), "later pages: rows only");
    let ids = [first["rows"][0]["id"].clone(), second["rows"][0]["id"].clone()];
    assert!(ids.contains(&json!(pv_id)));

    let pv = call(&h.main, "history_page", json!({"filter": {"since": today, "provider": "pesavoucher"}})).unwrap();
    assert_eq!(pv["rows"][0]["id"], pv_id.as_str());
    assert_eq!(pv["rows"][0]["operation"], "redeem");
    let bad = call(&h.main, "history_page", json!({"filter": {"since": "25/11/2026"}})).unwrap_err();
    assert_eq!(bad["code"], "invalid_filter");

    let detail = call(&h.main, "transaction_detail", json!({"id": pv_id})).unwrap();
    assert_eq!(detail["state"], "completed");
    let events: Vec<&str> = detail["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert!(events.len() >= 2, "{events:?}");
    assert!(!detail.to_string().contains("TRN-ACTIVE-1200"), "the code stays masked: {detail}");
    assert_eq!(call(&h.main, "transaction_detail", json!({"id": "nope"})).unwrap_err()["code"], "not_found");

    // The export's rows are the ledger's rows, field by field.
    let export = call(&h.main, "history_export_csv", json!({"filter": filter, "onProgress": "__CHANNEL__:7"})).unwrap();
    assert_eq!(export["rows"], 2);
    let path = std::path::PathBuf::from(export["path"].as_str().unwrap());
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(path.file_name().unwrap().to_str().unwrap().starts_with("kaunta-history-TILL-1-"), "{path:?}");
    let records = parse_csv(&text);
    let header = &records[0];
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(records.len(), 3);
    for rec in &records[1..] {
        let row = ledger.transaction(&rec[col("transaction_id")]).unwrap().expect("a ledger row");
        assert_eq!(rec[col("utc_time")], row.created_at);
        assert_eq!(rec[col("provider")], row.provider);
        assert_eq!(rec[col("cashier")], row.cashier);
        assert_eq!(rec[col("state")], row.state.as_str());
        assert_eq!(rec[col("amount_minor")], row.amount_minor.map(|m| m.to_string()).unwrap_or_default());
        assert_eq!(rec[col("currency")], row.currency.clone().unwrap_or_default());
        assert_eq!(rec[col("code_masked")], row.code_masked.clone().unwrap_or_default());
    }
    assert!(!text.contains("TRN-ACTIVE-1200") && !text.contains("TS-ANON-500"), "codes masked: {text}");

    let v = call(&h.main, "audit_verify", json!({"onProgress": "__CHANNEL__:8"})).unwrap();
    assert_eq!(v["first_bad"], Value::Null, "{v}");
    assert!(v["rows"].as_u64().unwrap() > 5, "{v}");
    let viewed = ledger.audit_trail(&pv_id).unwrap();
    let viewed = viewed.iter().find(|e| e.event == "transaction_viewed").expect("the look joins the trail");
    assert_eq!(viewed.actor, "Njeri", "the manager is the actor");
}

#[test]
fn a_filter_applied_is_one_audit_row_whatever_the_pages() {
    let h = harness();
    sign_in(&h, "Njeri");
    call(&h.main, "manager_unlock", json!({"name": "Njeri", "pin": PIN})).unwrap();
    for code in ["TRN-ACTIVE-1200", "TRN-ACTIVE-5000"] {
        call(&h.main, "redeem_voucher", json!({"provider": "pesavoucher", "code": code})).unwrap();
    }
    let ledger = tauri::Manager::state::<AppState>(&h._app).till.ledger().clone();
    let len = || ledger.audit_len().unwrap();
    let filter = json!({"provider": "pesavoucher"});
    let before = len();
    let first = call(&h.main, "history_page", json!({"filter": filter, "limit": 1})).unwrap();
    assert_eq!(len(), before + 1, "the first page records the view");
    call(&h.main, "history_page", json!({"filter": filter, "after": first["next"], "limit": 1})).unwrap();
    assert_eq!(len(), before + 1, "the next page continues it");
    call(&h.main, "history_totals", json!({"filter": filter})).unwrap();
    call(&h.main, "history_daily", json!({"filter": filter})).unwrap();
    assert_eq!(len(), before + 3, "figures asked for alone are views too");
    let e = call(&h.main, "history_export_csv", json!({"filter": filter, "onProgress": "__CHANNEL__:3"})).unwrap();
    std::fs::remove_file(e["path"].as_str().unwrap()).unwrap();
    assert_eq!(len(), before + 4, "the export");
    call(&h.main, "audit_verify", json!({"onProgress": "__CHANNEL__:4"})).unwrap();
    assert_eq!(len(), before + 5, "the verification");
}

/// Asks BitPesa about a payout until `done` says so (the training simulator
/// moves a payout on by status reads, not by the clock).
fn refresh_until(h: &Harness, id: &Value, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..40 {
        let p = call(&h.main, "payout_refresh", json!({"id": id})).unwrap();
        if done(&p) {
            return p;
        }
    }
    panic!("payout {id} never reached the expected state");
}

#[test]
fn a_manager_pays_out_with_bitpesa_and_cancels_one_that_fails() {
    let h = harness();
    sign_in(&h, "Njeri");
    assert_eq!(call(&h.main, "bitpesa_balances", json!({})).unwrap_err()["code"], "manager_required");
    let info = call(&h.main, "manager_unlock", json!({"name": "Njeri", "pin": PIN})).unwrap();
    // BitPesa is a manager's provider: in Settings, never a cashier's tab.
    assert!(info["providers"].as_array().unwrap().iter().all(|p| p["id"] != "bitpesa"));
    assert_eq!(info["payout_providers"][0]["id"], "bitpesa");

    let kes = |balances: &Value| {
        balances.as_array().unwrap().iter().find(|b| b["currency"] == "KES").unwrap()["amount"]["minor"]
            .as_i64()
            .unwrap()
    };
    let before = kes(&call(&h.main, "bitpesa_balances", json!({})).unwrap());
    let corridors = call(&h.main, "payout_corridors", json!({})).unwrap();
    assert!(corridors.as_array().unwrap().iter().any(|c| c["id"] == "KES::Mobile"));

    let refund = |phone: &str| {
        json!({"input": {"corridor": "KES::Mobile", "amount": "1,500", "reason": "Refund of order 1042",
            "recipient": {"first_name": "Amina", "last_name": "Wanjiru", "phone_number": phone}}})
    };
    let p = call(&h.main, "payout_start", refund("+254712345678")).unwrap();
    assert_eq!(p["amount"]["display"], "KES 1,500.00", "{p}");
    assert!(!p.to_string().contains("712345678"), "the phone is masked: {p}");
    let paid = refresh_until(&h, &p["transaction_id"], |p| p["state"] == "completed");
    assert!(paid["receipt"]["path"].as_str().unwrap().ends_with(".pdf"), "{paid}");
    assert_eq!(kes(&call(&h.main, "bitpesa_balances", json!({})).unwrap()), before - 150_000);

    // A recipient BitPesa cannot pay: the manager cancels, the money comes back.
    let p = call(&h.main, "payout_start", refund("+254712345619")).unwrap();
    let failing = refresh_until(&h, &p["transaction_id"], |p| p["may_cancel"] == true);
    assert_eq!(failing["state"], "pending");
    assert!(failing["state_reason"].as_str().is_some_and(|r| !r.is_empty()), "{failing}");
    call(&h.main, "payout_cancel", json!({"id": p["transaction_id"]})).unwrap();
    let cancelled = refresh_until(&h, &p["transaction_id"], |p| p["state"] == "failed");
    assert_eq!(cancelled["cancel_requested"], true);
    assert_eq!(kes(&call(&h.main, "bitpesa_balances", json!({})).unwrap()), before - 150_000);

    let recent = call(&h.main, "payout_recent", json!({})).unwrap();
    assert_eq!(recent.as_array().unwrap().len(), 2);
}

#[test]
fn a_manager_saves_a_pdf_history_report_and_a_cashier_cannot() {
    let h = harness();
    sign_in(&h, "Njeri");
    call(&h.main, "redeem_voucher", json!({"provider": "pesavoucher", "code": "TRN-ACTIVE-1200"})).unwrap();
    let today = chrono::Local::now().date_naive().to_string();
    let filter = json!({"since": today, "until": today});
    let refused = call(&h.main, "history_export_pdf", json!({"filter": filter})).unwrap_err();
    assert_eq!(refused["code"], "manager_required");

    call(&h.main, "manager_unlock", json!({"name": "Njeri", "pin": PIN})).unwrap();
    let ledger = tauri::Manager::state::<AppState>(&h._app).till.ledger().clone();
    let before = ledger.audit_len().unwrap();
    let file = call(&h.main, "history_export_pdf", json!({"filter": filter})).unwrap();
    let path = std::path::PathBuf::from(file["path"].as_str().unwrap());
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let name = path.file_name().unwrap().to_str().unwrap();
    assert!(name.starts_with("kaunta-history-TILL-1-") && name.ends_with(".pdf"), "{path:?}");
    assert!(bytes.starts_with(b"%PDF-"));
    assert_eq!(file["report"]["count"], 1, "{file}");
    assert_eq!(file["report"]["exported_by"], "Njeri");
    assert_eq!(ledger.audit_len().unwrap(), before + 1, "the export is one audit row");

    let bad = call(&h.main, "history_export_pdf", json!({"filter": {"since": "25/11/2026"}})).unwrap_err();
    assert_eq!(bad["code"], "invalid_filter");
}

#[test]
fn the_cashier_screen_reads_each_providers_status() {
    let h = harness();
    let e = call(&h.main, "provider_health", json!({"refresh": true})).unwrap_err();
    assert_eq!(e["code"], "no_cashier");
    sign_in(&h, "Amina");
    let before = call(&h.main, "provider_health", json!({})).unwrap();
    assert!(before.as_array().unwrap().iter().all(|p| p["reach"] == "unknown"), "{before}");
    let now = call(&h.main, "provider_health", json!({"refresh": true})).unwrap();
    let providers: Vec<&str> = now.as_array().unwrap().iter().map(|p| p["provider"].as_str().unwrap()).collect();
    assert_eq!(providers.len(), 5, "{now}");
    for p in now.as_array().unwrap() {
        assert_eq!(p["reach"], "up", "{p}");
        assert!(p["since"].is_string() && p["checked_at"].is_string(), "{p}");
        assert_eq!(p["message"], Value::Null);
    }
}

#[test]
fn a_manager_reprints_a_closed_shifts_z_report_over_ipc() {
    let h = harness();
    sign_in(&h, "Njeri");
    // The first transaction opens the shift.
    call(&h.main, "redeem_voucher", json!({"provider": "pesavoucher", "code": "TRN-ACTIVE-1200"})).unwrap();
    let open = call(&h.main, "shift_current", json!({})).unwrap();
    let id = open["id"].as_str().unwrap().to_string();
    let refused = call(&h.main, "shift_reprint_z", json!({"shiftId": id})).unwrap_err();
    assert_eq!(refused["code"], "manager_required");

    call(&h.main, "manager_unlock", json!({"name": "Njeri", "pin": PIN})).unwrap();
    let e = call(&h.main, "shift_reprint_z", json!({"shiftId": id})).unwrap_err();
    assert_eq!(e["code"], "shift_not_closed", "{e}");
    let closed = call(&h.main, "shift_close", json!({})).unwrap();
    assert_eq!(closed["report"]["reprint"], Value::Null);

    let copy = call(&h.main, "shift_reprint_z", json!({"shiftId": id})).unwrap();
    assert_eq!(copy["report"]["reprint"]["by"], "Njeri", "{copy}");
    for figure in ["count", "by_currency", "by_provider", "by_cashier", "audit_head", "store_name", "until"] {
        assert_eq!(copy["report"][figure], closed["report"][figure], "{figure}");
    }
    let path = copy["delivery"]["path"].as_str().unwrap();
    assert!(path.ends_with(&format!("{id}-z-reprint-1.pdf")), "{path}");
    assert_ne!(path, closed["delivery"]["path"].as_str().unwrap());

    let e = call(&h.main, "shift_reprint_z", json!({"shiftId": "nope"})).unwrap_err();
    assert_eq!(e, json!({"code": "shift_not_found", "message": "There is no shift nope at this till"}));
}

#[test]
fn a_manager_backs_up_over_ipc_and_the_z_close_backs_up_too() {
    let h = harness();
    sign_in(&h, "Njeri");
    call(&h.main, "redeem_voucher", json!({"provider": "pesavoucher", "code": "TRN-ACTIVE-1200"})).unwrap();
    let refused = call(&h.main, "backup_now", json!({})).unwrap_err();
    assert_eq!(refused["code"], "manager_required");

    call(&h.main, "manager_unlock", json!({"name": "Njeri", "pin": PIN})).unwrap();
    let made = call(&h.main, "backup_now", json!({})).unwrap();
    let path = std::path::PathBuf::from(made["path"].as_str().unwrap());
    assert_eq!(path.parent().unwrap(), h._dir.path().join("backups"), "{made}");
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("kaunta-TILL-1-") && name.ends_with("Z.sqlite3"), "{name}");
    assert_eq!(made["transactions"], 1);
    // What crossed IPC is what the file holds.
    let check = kaunta_core::backup::verify_backup(&path).unwrap();
    assert_eq!(made["audit_rows"], check.audit_rows);
    assert_eq!(made["head"], json!({"seq": check.head.seq, "hash": check.head.hash}));
    assert_eq!(check.head.hash.len(), 64);

    let closed = call(&h.main, "shift_close", json!({})).unwrap();
    assert_eq!(closed["backup"]["status"], "made", "{}", closed["backup"]);
    assert_ne!(closed["backup"]["path"], made["path"]);
    assert!(closed["backup"]["head"]["seq"].as_i64().unwrap() > check.head.seq);
}
