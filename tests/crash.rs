//! kill -9 at every step of every provider's flow (issue 7), on the real
//! binary against the simulator in its own process (it outlives the till):
//!
//! (a) before the intent commit: `KAUNTA_CRASH_AT=intent_uncommitted` kills
//!     the till inside the open SQLite transaction holding the intent and its
//!     audit row (see `kaunta_core::crash`);
//! (b) after the intent commit, the provider not yet acted: the simulator
//!     holds the money-moving request unapplied (`hang_before_apply`) and the
//!     test kills the till once the simulator has it;
//! (c) after the provider applied it: the same with `hang_after_apply`, and
//!     `KAUNTA_CRASH_AT=outcome_uncommitted`, which kills the till with the
//!     provider's answer in hand and its outcome written, not committed.
//!
//! After the kill the next start (`kaunta reconcile`) must leave the ledger
//! consistent: nothing half-written, completed rows recorded once and never
//! redeemed twice at the provider, failed rows with the voucher usable
//! again, and whatever the provider cannot answer `unknown`, in the
//! manager's queue (`still_open`, exit 3) and refused to a second try.
//! `kaunta audit verify` passes every time.
//!
//! PesaVoucher's (b) and (c) with hangs are in headless.rs.

mod support;

use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Stdio};

use serde_json::{Value, json};
use support::{Simulator, Till};

const VOUCHER: &str = "NLV-DTUMJQ6ILG9WNISE";
const GIFT: &str = "TS-GIFT-1000";
const GIFTPESA_PHONE: &str = "254720123456";
const OPENING_KES: &str = "500000";

fn spawn(till: &Till, args: &[&str], crash_at: Option<&str>) -> Child {
    let mut cmd = till.command(args);
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    if let Some(point) = crash_at {
        cmd.env("KAUNTA_CRASH_AT", point);
    }
    cmd.spawn().unwrap()
}

/// Runs `args` set to crash at `point`, and proves it died there by SIGKILL.
fn crash_at(till: &Till, args: &[&str], point: &str) {
    let status = spawn(till, args, Some(point)).wait().unwrap();
    assert_eq!(status.signal(), Some(9), "{args:?} did not crash at {point}: {status:?}");
}

/// Runs `args` with `fault` queued on the provider's endpoint and kills the
/// till with SIGKILL once the simulator holds that request.
async fn kill_at(sim: &Simulator, till: &Till, args: &[&str], provider: &str, endpoint: &str, fault: Value) {
    sim.inject_for(provider, endpoint, fault).await;
    let before = sim.received(provider, endpoint).await;
    let mut child = spawn(till, args, None);
    sim.wait_for(provider, endpoint, before + 1).await;
    // `Child::kill` is SIGKILL on Unix.
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "{status:?}");
}

/// (id, state) of each of the provider's transactions, oldest first.
fn rows(till: &Till, provider: &str) -> Vec<(String, String)> {
    let db = till.db();
    let mut stmt =
        db.prepare("SELECT id, state FROM transactions WHERE provider = ?1 ORDER BY created_at, id").unwrap();
    stmt.query_map([provider], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap()
}

fn states(till: &Till, provider: &str) -> Vec<String> {
    rows(till, provider).into_iter().map(|(_, s)| s).collect()
}

fn the_id(till: &Till, provider: &str) -> String {
    let rows = rows(till, provider);
    assert_eq!(rows.len(), 1, "{rows:?}");
    rows[0].0.clone()
}

/// The next start: `kaunta reconcile --json`, its exit code and answer.
fn restart(till: &Till) -> (i32, Value) {
    till.run_json(&["reconcile", "--json"])
}

fn assert_audit_verifies(till: &Till) {
    let out = till.run(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
}

/// (a): the crash left no row, no attempt in the audit log, nothing for a
/// manager; the provider never saw the money-moving request.
async fn assert_nothing_happened(sim: &Simulator, till: &Till, provider: &str, endpoint: &str) {
    assert_eq!(rows(till, provider), [], "an uncommitted intent left a row");
    assert!(!till.audit_events().iter().any(|e| e == "redeem_attempt"), "{:?}", till.audit_events());
    assert_eq!(sim.received(provider, endpoint).await, 0, "the provider received {endpoint}");
    let (code, answer) = restart(till);
    assert_eq!(code, 0, "{answer}");
    assert_eq!(answer["settled"], json!([]));
    assert_eq!(answer["still_open"], json!([]));
    assert_audit_verifies(till);
}

/// An `unknown` row waiting for a manager: listed by reconcile (exit 3).
fn assert_in_manager_queue(till: &Till, id: &str) {
    let (code, answer) = restart(till);
    assert_eq!(code, 3, "{answer}");
    let open = answer["still_open"].as_array().unwrap();
    assert!(open.iter().any(|r| r["id"] == id && r["state"] == "unknown"), "{answer}");
    assert!(till.audit_events().iter().any(|e| e == "crash_recovered"), "{:?}", till.audit_events());
}

fn resolve(till: &Till, id: &str, to: &str) {
    let (code, r) = till.run_json(&[
        "resolve",
        id,
        "--as",
        to,
        "--reason",
        "checked with the provider",
        "--manager",
        "Njeri",
        "--json",
    ]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["state"], to);
}

// ---------------------------------------------------------------- PesaVoucher

fn pesavoucher_redeem() -> Vec<&'static str> {
    vec!["redeem", "pesavoucher", VOUCHER, "--cashier", "amina", "--json"]
}

#[tokio::test]
async fn pesavoucher_killed_before_the_intent_commit_leaves_nothing_and_the_voucher_usable() {
    let sim = Simulator::start();
    let till = Till::new(&sim.training_config());
    crash_at(&till, &pesavoucher_redeem(), "intent_uncommitted");
    assert_nothing_happened(&sim, &till, "pesavoucher", "redeem_voucher").await;

    let (code, r) = till.run_json(&pesavoucher_redeem());
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["state"], "completed");
    assert_eq!(sim.redemptions(VOUCHER).await, 1);
}

#[tokio::test]
async fn pesavoucher_killed_before_the_outcome_commit_is_reconciled_completed_once() {
    let sim = Simulator::start();
    let till = Till::new(&sim.training_config());
    crash_at(&till, &pesavoucher_redeem(), "outcome_uncommitted");
    assert_eq!(states(&till, "pesavoucher"), ["pending"], "the outcome was never committed");
    assert_eq!(sim.redemptions(VOUCHER).await, 1);

    let (code, answer) = restart(&till);
    assert_eq!(code, 0, "{answer}");
    assert_eq!(answer["settled"][0]["state"], "completed");
    let (code, again) = till.run_json(&pesavoucher_redeem());
    assert_eq!(code, 1, "{again}");
    assert_eq!(again["error"]["code"], "already_redeemed");
    assert_eq!(states(&till, "pesavoucher"), ["completed"]);
    assert_eq!(sim.redemptions(VOUCHER).await, 1);
    assert_audit_verifies(&till);
}

// ---------------------------------------------------------------- Telesend

/// Claims the gift (its own process, not killed) and returns the redeem
/// command with the customer's SMS code.
async fn telesend_claimed(sim: &Simulator, till: &Till) -> Vec<String> {
    let (code, claim) = till.run_json(&["claim", "telesend", GIFT, "--cashier", "amina", "--json"]);
    assert_eq!(code, 0, "{claim}");
    let sms = sim.telesend_sms(GIFT).await;
    ["redeem", "telesend", GIFT, "--verification-code", &sms, "--cashier", "amina", "--json"]
        .map(str::to_string)
        .to_vec()
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

async fn telesend_redemptions(sim: &Simulator) -> u64 {
    sim.control_json("/telesend/redemptions").await[GIFT].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn telesend_killed_before_the_intent_commit_leaves_nothing_and_the_gift_usable() {
    let sim = Simulator::start();
    let till = Till::new(&sim.training_config());
    let redeem = telesend_claimed(&sim, &till).await;
    crash_at(&till, &args(&redeem), "intent_uncommitted");
    assert_nothing_happened(&sim, &till, "telesend", "redeem-gift").await;

    let (code, r) = till.run_json(&args(&redeem));
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["state"], "completed");
    assert_eq!(telesend_redemptions(&sim).await, 1);
}

/// Telesend has no status query: after a crash in flight the redemption
/// waits for a manager, the gift blocked meanwhile.
async fn telesend_crash_in_flight(crash: impl AsyncFnOnce(&Simulator, &Till, Vec<&str>), applied: u64) {
    let sim = Simulator::start();
    let till = Till::new(&sim.training_config());
    till.add_manager("Njeri");
    let redeem = telesend_claimed(&sim, &till).await;
    crash(&sim, &till, args(&redeem)).await;
    let id = the_id(&till, "telesend");
    assert_eq!(states(&till, "telesend"), ["pending"]);

    assert_in_manager_queue(&till, &id);
    assert_eq!(states(&till, "telesend"), ["unknown"]);
    let (code, again) = till.run_json(&args(&redeem));
    assert_eq!(code, 1, "{again}");
    assert_eq!(again["error"]["code"], "in_flight", "an unknown redemption blocks the gift");
    assert_eq!(telesend_redemptions(&sim).await, applied, "never redeemed twice");

    // The manager checks Telesend's portal and closes it as it happened.
    resolve(&till, &id, if applied == 1 { "completed" } else { "failed" });
    assert_eq!(restart(&till).0, 0, "nothing left for a manager");
    assert_eq!(telesend_redemptions(&sim).await, applied);
    assert_audit_verifies(&till);
}

#[tokio::test]
async fn telesend_killed_before_telesend_acted_waits_for_a_manager() {
    telesend_crash_in_flight(
        async |sim, till, redeem| {
            kill_at(sim, till, &redeem, "telesend", "redeem-gift", json!({"kind": "hang_before_apply"})).await
        },
        0,
    )
    .await;
}

#[tokio::test]
async fn telesend_killed_after_telesend_redeemed_waits_for_a_manager() {
    telesend_crash_in_flight(
        async |sim, till, redeem| {
            kill_at(sim, till, &redeem, "telesend", "redeem-gift", json!({"kind": "hang_after_apply"})).await
        },
        1,
    )
    .await;
}

#[tokio::test]
async fn telesend_killed_before_the_outcome_commit_waits_for_a_manager() {
    telesend_crash_in_flight(async |_, till, redeem| crash_at(till, &redeem, "outcome_uncommitted"), 1).await;
}

// ---------------------------------------------------------------- GiftPesa

fn giftpesa_redeem() -> Vec<&'static str> {
    support::giftpesa_redeem_args("100", &[])
}

/// Redemptions GiftPesa applied (keyed by our transaction id: any id counts).
async fn giftpesa_redemptions(sim: &Simulator) -> u64 {
    let v = sim.control_json("/giftpesa/redemptions").await;
    v.as_object().unwrap().values().filter_map(Value::as_u64).sum()
}

#[tokio::test]
async fn giftpesa_killed_before_the_intent_commit_leaves_nothing_and_the_balance_usable() {
    let sim = Simulator::start();
    let till = Till::new(&sim.training_config());
    crash_at(&till, &giftpesa_redeem(), "intent_uncommitted");
    assert_nothing_happened(&sim, &till, "giftpesa", "redeem").await;

    let (code, r) = till.run_json(&giftpesa_redeem());
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["state"], "completed");
    assert_eq!(giftpesa_redemptions(&sim).await, 1);
    assert_eq!(till.states_of(GIFTPESA_PHONE), ["completed"]);
}

/// GiftPesa has no status query either: a manager decides.
async fn giftpesa_crash_in_flight(crash: impl AsyncFnOnce(&Simulator, &Till), applied: u64) {
    let sim = Simulator::start();
    let till = Till::new(&sim.training_config());
    till.add_manager("Njeri");
    crash(&sim, &till).await;
    let id = the_id(&till, "giftpesa");
    assert_eq!(states(&till, "giftpesa"), ["pending"]);

    assert_in_manager_queue(&till, &id);
    let (code, again) = till.run_json(&giftpesa_redeem());
    assert_eq!(code, 1, "{again}");
    assert_eq!(again["error"]["code"], "in_flight", "an unknown redemption blocks the customer's phone");
    assert_eq!(giftpesa_redemptions(&sim).await, applied, "never redeemed twice");

    resolve(&till, &id, if applied == 1 { "completed" } else { "failed" });
    if applied == 0 {
        // Failed means nothing was taken: the customer's balance is usable.
        let (code, r) = till.run_json(&giftpesa_redeem());
        assert_eq!(code, 0, "{r}");
        assert_eq!(giftpesa_redemptions(&sim).await, 1);
    }
    assert_eq!(restart(&till).0, 0, "nothing left for a manager");
    assert_audit_verifies(&till);
}

#[tokio::test]
async fn giftpesa_killed_before_giftpesa_acted_waits_for_a_manager() {
    giftpesa_crash_in_flight(
        async |sim, till| {
            kill_at(sim, till, &giftpesa_redeem(), "giftpesa", "redeem", json!({"kind": "hang_before_apply"})).await
        },
        0,
    )
    .await;
}

#[tokio::test]
async fn giftpesa_killed_after_giftpesa_redeemed_waits_for_a_manager() {
    giftpesa_crash_in_flight(
        async |sim, till| {
            kill_at(sim, till, &giftpesa_redeem(), "giftpesa", "redeem", json!({"kind": "hang_after_apply"})).await
        },
        1,
    )
    .await;
}

#[tokio::test]
async fn giftpesa_killed_before_the_outcome_commit_waits_for_a_manager() {
    giftpesa_crash_in_flight(async |_, till| crash_at(till, &giftpesa_redeem(), "outcome_uncommitted"), 1).await;
}

// ---------------------------------------------------------------- Pesapal

fn pesapal_checkout(wait: &'static str) -> Vec<&'static str> {
    vec![
        "checkout",
        "pesapal",
        "--amount",
        "850",
        "--description",
        "Shoes",
        "--phone",
        "0723456456",
        "--wait",
        wait,
        "--json",
    ]
}

async fn pesapal_orders(sim: &Simulator) -> Vec<Value> {
    sim.pesapal_orders().await.as_array().unwrap().clone()
}

fn checkout_outcomes(till: &Till) -> usize {
    till.audit_events().iter().filter(|e| *e == "checkout_outcome").count()
}

#[tokio::test]
async fn pesapal_killed_before_the_intent_commit_leaves_nothing_and_a_new_checkout_opens() {
    let sim = Simulator::start();
    let till = Till::new(&sim.training_config());
    crash_at(&till, &pesapal_checkout("30"), "intent_uncommitted");
    assert_nothing_happened(&sim, &till, "pesapal", "SubmitOrderRequest").await;
    assert_eq!(pesapal_orders(&sim).await, Vec::<Value>::new());

    // The order opens (its JSON), then the wait ends at once (the status's).
    let out = till.run(&pesapal_checkout("0"));
    let printed: Vec<Value> =
        serde_json::Deserializer::from_slice(&out.stdout).into_iter().collect::<Result<_, _>>().unwrap();
    assert_eq!(out.status.code(), Some(3), "waiting for the customer: {printed:?}");
    assert!(printed[0]["redirect_url"].as_str().is_some(), "{printed:?}");
    assert_eq!(printed.last().unwrap()["state"], "pending");
    assert_eq!(pesapal_orders(&sim).await.len(), 1);
}

/// The order was never opened, or opened with its tracking id lost: either
/// way its payment link was never shown, so nobody could pay it. The
/// restart records it `failed` with no payment, as a running till does when
/// SubmitOrderRequest's answer is lost; no manager is needed.
async fn pesapal_submit_crash(fault: &str, orders: usize) {
    let sim = Simulator::start();
    let till = Till::new(&sim.training_config());
    kill_at(&sim, &till, &pesapal_checkout("30"), "pesapal", "SubmitOrderRequest", json!({"kind": fault})).await;
    let id = the_id(&till, "pesapal");
    assert_eq!(states(&till, "pesapal"), ["pending"]);

    let (code, answer) = restart(&till);
    assert_eq!(code, 0, "nothing left for a manager: {answer}");
    assert_eq!(answer["settled"][0]["id"], id.as_str(), "{answer}");
    assert_eq!(answer["settled"][0]["state"], "failed", "{answer}");
    assert_eq!(answer["still_open"], json!([]), "{answer}");
    assert_eq!(states(&till, "pesapal"), ["failed"]);
    assert!(till.audit_events().iter().any(|e| e == "checkout_never_shown"), "{:?}", till.audit_events());
    assert!(!till.audit_events().iter().any(|e| e == "crash_recovered"), "{:?}", till.audit_events());
    assert_eq!(pesapal_orders(&sim).await.len(), orders);
    assert_eq!(checkout_outcomes(&till), 0, "no payment recorded");
    let (code, again) = restart(&till);
    assert_eq!((code, &again["settled"], &again["still_open"]), (0, &json!([]), &json!([])), "{again}");
    assert_audit_verifies(&till);
}

#[tokio::test]
async fn pesapal_killed_before_the_order_was_opened_fails_with_no_payment() {
    pesapal_submit_crash("hang_before_apply", 0).await;
}

#[tokio::test]
async fn pesapal_killed_after_the_order_was_opened_fails_with_no_payment() {
    pesapal_submit_crash("hang_after_apply", 1).await;
}

#[tokio::test]
async fn pesapal_killed_before_the_payment_commit_records_it_once_on_restart() {
    let sim = Simulator::start();
    let till = Till::new(&sim.training_config());
    let mut child = spawn(&till, &pesapal_checkout("30"), Some("outcome_uncommitted"));
    sim.wait_for("pesapal", "GetTransactionStatus", 1).await;
    let orders = pesapal_orders(&sim).await;
    let tracking = orders[0]["order_tracking_id"].as_str().unwrap();
    sim.pesapal_order(tracking, "complete").await;
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "the till saw the payment and crashed recording it: {status:?}");
    assert_eq!(states(&till, "pesapal"), ["pending"]);

    let (code, answer) = restart(&till);
    assert_eq!(code, 0, "{answer}");
    assert_eq!(answer["settled"][0]["state"], "completed");
    let (code, again) = till.run_json(&["status", "pesapal", tracking, "--json"]);
    assert_eq!(code, 0, "{again}");
    assert_eq!(states(&till, "pesapal"), ["completed"]);
    assert_eq!(checkout_outcomes(&till), 1, "the payment is recorded once");
    assert_audit_verifies(&till);
}

// ---------------------------------------------------------------- BitPesa

fn bitpesa_payout() -> Vec<&'static str> {
    support::bitpesa_payout_args(&["--wait", "10", "--json"])
}

/// What BitPesa holds for our payout: (its state, the debits that funded it).
async fn bitpesa_payout_state(sim: &Simulator, external_id: &str) -> Option<(String, u64)> {
    let state = sim.bitpesa_state().await;
    let t = state["transactions"].as_array().unwrap().iter().find(|t| t["external_id"] == external_id)?.clone();
    Some((t["state"].as_str().unwrap().to_string(), t["debits"].as_u64().unwrap()))
}

async fn kes_balance(sim: &Simulator) -> String {
    sim.bitpesa_state().await["balances"]["KES"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn bitpesa_killed_before_the_intent_commit_sends_nothing_and_pays_once_after() {
    let sim = Simulator::start();
    let till = Till::new(&sim.training_config());
    till.add_manager("Njeri");
    crash_at(&till, &bitpesa_payout(), "intent_uncommitted");
    assert_nothing_happened(&sim, &till, "bitpesa", "create_transaction").await;
    assert_eq!(sim.bitpesa_state().await["transaction_creations"], 0);

    let (code, paid) = till.run_json(&bitpesa_payout());
    assert_eq!(code, 0, "{paid}");
    assert_eq!(paid["state"], "completed");
    let id = paid["transaction_id"].as_str().unwrap();
    assert_eq!(bitpesa_payout_state(&sim, id).await, Some(("paid".into(), 1)));
    assert_eq!(kes_balance(&sim).await, "498500");
}

/// Killed with the transaction never funded (not created, created, or the
/// debit not applied): the restart finds it by `external_id`, cancels what
/// exists so nobody can fund it later, and fails the payout. No money moved.
async fn bitpesa_unfunded_crash(endpoint: &str, fault: &str, at_bitpesa: Option<&str>) {
    let sim = Simulator::start();
    let till = Till::new(&sim.training_config());
    till.add_manager("Njeri");
    kill_at(&sim, &till, &bitpesa_payout(), "bitpesa", endpoint, json!({"kind": fault})).await;
    let id = the_id(&till, "bitpesa");
    assert_eq!(states(&till, "bitpesa"), ["pending"]);

    let (code, answer) = restart(&till);
    assert_eq!(code, 0, "{answer}");
    assert_eq!(answer["settled"][0]["state"], "failed", "{answer}");
    assert_eq!(bitpesa_payout_state(&sim, &id).await, at_bitpesa.map(|s| (s.to_string(), 0)));
    assert_eq!(kes_balance(&sim).await, OPENING_KES, "nothing paid out");
    assert_eq!(sim.received("bitpesa", "debits").await, u64::from(endpoint == "debits"), "funding asked at most once");
    assert_audit_verifies(&till);
}

#[tokio::test]
async fn bitpesa_killed_before_the_transaction_was_created_fails_the_payout() {
    bitpesa_unfunded_crash("create_transaction", "hang_before_apply", None).await;
}

#[tokio::test]
async fn bitpesa_killed_after_the_transaction_was_created_cancels_it_unfunded() {
    bitpesa_unfunded_crash("create_transaction", "hang_after_apply", Some("canceled")).await;
}

#[tokio::test]
async fn bitpesa_killed_before_the_debit_applied_cancels_it_unfunded() {
    bitpesa_unfunded_crash("debits", "hang_before_apply", Some("canceled")).await;
}

/// Funded, then killed: the restart finds it funded and follows it; it is
/// paid out and recorded once, the balance debited once.
async fn bitpesa_funded_crash(crash: impl AsyncFnOnce(&Simulator, &Till)) {
    let sim = Simulator::start();
    let till = Till::new(&sim.training_config());
    till.add_manager("Njeri");
    crash(&sim, &till).await;
    let id = the_id(&till, "bitpesa");
    assert_eq!(states(&till, "bitpesa"), ["pending"]);
    assert_eq!(bitpesa_payout_state(&sim, &id).await.map(|(_, d)| d), Some(1));

    let (code, answer) = restart(&till);
    assert!(code == 0 || code == 3, "{answer}");
    // Each status read moves the simulator's payout on (two reads a step):
    // a bounded number of reads, not a clock.
    for _ in 0..4 {
        if states(&till, "bitpesa") == ["completed"] {
            break;
        }
        let (code, status) = till.run_json(&["payout", "status", &id, "--json"]);
        assert!(code == 0 || code == 3, "{status}");
    }
    assert_eq!(states(&till, "bitpesa"), ["completed"]);
    assert_eq!(bitpesa_payout_state(&sim, &id).await, Some(("paid".into(), 1)), "paid once");
    assert_eq!(kes_balance(&sim).await, "498500", "debited once");
    assert_eq!(sim.received("bitpesa", "debits").await, 1, "funding asked once");
    let outcomes = till.audit_events().iter().filter(|e| *e == "payout_outcome").count();
    assert_eq!(outcomes, 1, "{:?}", till.audit_events());
    assert_eq!(restart(&till).0, 0, "nothing left open");
    assert_audit_verifies(&till);
}

#[tokio::test]
async fn bitpesa_killed_after_the_debit_applied_follows_it_to_paid_once() {
    bitpesa_funded_crash(async |sim, till| {
        kill_at(sim, till, &bitpesa_payout(), "bitpesa", "debits", json!({"kind": "hang_after_apply"})).await
    })
    .await;
}

#[tokio::test]
async fn bitpesa_killed_before_the_paid_outcome_commit_records_it_once() {
    bitpesa_funded_crash(async |_, till| crash_at(till, &bitpesa_payout(), "outcome_uncommitted")).await;
}
