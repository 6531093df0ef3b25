//! The real binary, headless: crash recovery, exit codes, the audit chain
//! against tampering, the OS keyring and CUPS printing.

mod support;

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use support::{Simulator, Till, wait_until};

const CODE: &str = "NLV-DTUMJQ6ILG9WNISE";

/// Starts a redemption, waits until the simulator holds the request (after
/// or before applying it), and kills the till with SIGKILL right there:
/// the intent is committed, the outcome never will be.
async fn kill_mid_redemption(sim: &Simulator, till: &Till, fault: serde_json::Value) {
    sim.inject("redeem_voucher", fault).await;
    let mut child = till
        .command(&["redeem", "pesavoucher", CODE, "--cashier", "amina", "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    sim.wait_received("redeem_voucher", 1).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(till.states_of(CODE), ["pending"], "the intent was committed before the call");
}

#[tokio::test]
async fn a_crash_after_the_provider_redeemed_is_reconciled_as_completed_and_never_redeemed_twice() {
    let sim = Simulator::start();
    let till = Till::new(&sim.training_config());
    kill_mid_redemption(&sim, &till, json!({"kind": "hang_after_apply"})).await;

    // Any next start recovers: pending -> unknown -> asked the provider -> completed.
    let (code, history) = till.run_json(&["history", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(history[0]["state"], "completed");
    assert_eq!(till.states_of(CODE), ["completed"]);
    let events = till.audit_events();
    assert!(events.ends_with(&["crash_recovered".to_string(), "reconciled".to_string()]), "{events:?}");

    let (code, answer) = till.run_json(&["redeem", "pesavoucher", CODE, "--cashier", "amina", "--json"]);
    assert_eq!(code, 1);
    assert_eq!(answer["error"]["code"], "already_redeemed");
    assert_eq!(sim.redemptions(CODE).await, 1);
    assert_eq!(till.run(&["audit", "verify"]).status.code(), Some(0));
}

#[tokio::test]
async fn a_crash_before_the_provider_acted_is_reconciled_as_failed_and_the_voucher_stays_usable() {
    let sim = Simulator::start();
    let till = Till::new(&sim.training_config());
    kill_mid_redemption(&sim, &till, json!({"kind": "hang_before_apply"})).await;

    let (code, answer) = till.run_json(&["redeem", "pesavoucher", CODE, "--cashier", "amina", "--json"]);
    assert_eq!(code, 0, "{answer}");
    assert_eq!(answer["state"], "completed");
    assert_eq!(till.states_of(CODE), ["failed", "completed"]);
    assert_eq!(sim.redemptions(CODE).await, 1);
}

#[tokio::test]
async fn exit_codes_tell_scripts_what_happened() {
    let sim = Simulator::start();
    let till = Till::new(&sim.training_config());
    let status = |args: &[&str]| till.run(args).status.code();
    assert_eq!(status(&["validate", "pesavoucher", "TRN-ACTIVE-1200"]), Some(0));
    assert_eq!(status(&["validate", "pesavoucher", "TRN-INACTIVE-01"]), Some(1));
    assert_eq!(status(&["validate", "pesavoucher", "<script>"]), Some(1));
    assert_eq!(status(&["redeem", "pesavoucher", "TRN-ACTIVE-1200"]), Some(2), "--cashier is required");
    assert_eq!(status(&["validate", "nosuchprovider", "TRN-ACTIVE-1200"]), Some(2));

    sim.inject("redeem_voucher", json!({"kind": "drop_after_apply"})).await;
    let (code, answer) = till.run_json(&["redeem", "pesavoucher", "TRN-ACTIVE-5000", "--cashier", "amina", "--json"]);
    assert_eq!(code, 3, "{answer}");
    assert_eq!(answer["state"], "unknown");
    assert!(answer["message"].as_str().unwrap().contains("do NOT hand over"));

    let broken = Till::new("environment = \"live\"\n[providers.pesavoucher]\nbase_url = \"http://example.com/api\"\n");
    let out = broken.run(&["validate", "pesavoucher", "TRN-ACTIVE-1200"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("https"));
}

#[tokio::test]
async fn audit_verify_names_the_first_tampered_row() {
    let sim = Simulator::start();
    let till = Till::new(&sim.training_config());
    for code in ["TRN-ACTIVE-1200", "TRN-ACTIVE-5000", "TRN-REDEEMED-01"] {
        till.run(&["redeem", "pesavoucher", code, "--cashier", "amina"]);
    }
    let ok = till.run(&["audit", "verify", "--json"]);
    assert_eq!(ok.status.code(), Some(0));
    let rows = till.audit_events().len() as i64;
    assert!(rows >= 6);

    // Someone with the file removes the guard and lowers an amount.
    let db = till.db();
    db.execute_batch("DROP TRIGGER audit_log_no_update").unwrap();
    let target: i64 = db
        .query_row("SELECT seq FROM audit_log WHERE amount_minor IS NOT NULL ORDER BY seq LIMIT 1 OFFSET 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    db.execute("UPDATE audit_log SET amount_minor = 100 WHERE seq = ?1", [target]).unwrap();
    drop(db);

    let out = till.run(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("BROKEN at row {target}")), "{text}");
    let (_, v) = till.run_json(&["audit", "verify", "--json"]);
    assert_eq!(v["first_bad"]["seq"], target);
}

/// A keyring service of this test's own, so it never meets a real till's entries.
fn keyring_service() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("kaunta-e2e-{}-{nanos}", std::process::id())
}

#[test]
fn credentials_go_to_the_keyring_and_nowhere_else() {
    let till = Till::new("environment = \"sandbox\"\n[receipt]\nprint = false\n");
    let service = keyring_service();
    let secret = "pv-secret-7d1f3a9c";
    till.add_manager("Njeri");
    let set = |input: &str| {
        till.run_with_input(
            &["credentials", "set", "pesavoucher", "--manager", "Njeri"],
            &[("KAUNTA_KEYRING_SERVICE", &service)],
            input,
        )
    };
    let out = set(&json!({"api_key": "pv-key-51c2", "api_secret": secret}).to_string());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!String::from_utf8_lossy(&out.stdout).contains(secret));

    let status =
        till.command(&["credentials", "status", "--json"]).env("KAUNTA_KEYRING_SERVICE", &service).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(v[0]["provider"], "pesavoucher");
    assert_eq!(v[0]["configured"], true);
    assert!(!String::from_utf8_lossy(&status.stdout).contains(secret));

    // The secret is in the keyring (read back with the system's own tool)...
    let lookup = std::process::Command::new("secret-tool")
        .args(["lookup", "service", &service, "username", "pesavoucher/sandbox"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&lookup.stdout).contains(secret), "secret-tool found nothing");
    // ...and in no file of the data directory (database, WAL, config, receipts).
    for entry in walk(till.path()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "{} holds the secret", entry.display());
    }

    let out = set("{\"api_key\": \"k\"}");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("api_secret"));
}

#[test]
fn without_a_keyring_service_the_message_is_plain() {
    let till = Till::new("environment = \"sandbox\"\n");
    let out = till
        .command(&["validate", "pesavoucher", "TRN-ACTIVE-1200"])
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/kaunta-test-bus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("keyring is not available"), "{err}");
    assert!(err.contains("[keyring_unavailable]"), "{err}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { out.extend(walk(&path)) } else { out.push(path) }
    }
    out
}

/// The receipt goes through CUPS to the PDF printer that scripts/test sets up.
#[tokio::test]
async fn a_receipt_prints_through_cups() {
    let sim = Simulator::start();
    let till = Till::new(&sim.training_config().replace("print = false", "print = true\nprinter = \"PDF\""));
    let (code, answer) = till.run_json(&["redeem", "pesavoucher", "TRN-ACTIVE-5000", "--cashier", "amina", "--json"]);
    assert_eq!(code, 0, "{answer}");
    let receipt = &answer["receipt"];
    assert_eq!(receipt["printed"], true, "{receipt}");
    assert_eq!(receipt["printer"], "PDF");
    let id = answer["transaction_id"].as_str().unwrap();
    let printed = support::cups_pdf_output(id);
    wait_until("cups-pdf to write the receipt", Duration::from_secs(30), || printed().is_some());
    let pdf = std::fs::read(printed().unwrap()).unwrap();
    assert!(pdf.starts_with(b"%PDF"));
}

/// Claim in one process, redeem in another: the claim lives in the ledger,
/// the customer's SMS code comes from the simulator, a partial amount stays
/// on the voucher, and a lost answer waits for a manager.
#[tokio::test]
async fn telesend_claim_and_redeem_across_processes() {
    let sim = Simulator::start();
    let till = Till::new(&sim.training_config());
    let (code, claim) =
        till.run_json(&["claim", "telesend", "TS-GIFT-2500", "--amount", "1,000", "--cashier", "amina", "--json"]);
    assert_eq!(code, 0, "{claim}");
    assert_eq!(claim["amount"]["display"], "ETB 1,000.00");
    let sms = sim.telesend_sms("TS-GIFT-2500").await;

    let (code, wrong) = till.run_json(&[
        "redeem",
        "telesend",
        "TS-GIFT-2500",
        "--verification-code",
        "999999x",
        "--cashier",
        "amina",
        "--json",
    ]);
    assert_eq!(code, 1);
    assert_eq!(wrong["error"]["code"], "wrong_verification_code");

    let (code, done) = till.run_json(&[
        "redeem",
        "telesend",
        "TS-GIFT-2500",
        "--verification-code",
        &sms,
        "--cashier",
        "amina",
        "--json",
    ]);
    assert_eq!(code, 0, "{done}");
    assert_eq!(done["message"], "ETB 1,000.00 redeemed: hand over the goods");
    assert_eq!(done["provider"], "telesend");

    // A lost answer: unknown (exit 3), then a manager resolves it.
    sim.inject_for("telesend", "redeem-gift", json!({"kind": "drop_after_apply"})).await;
    let (code, lost) = till.run_json(&["redeem", "telesend", "TS-ANON-500", "--cashier", "amina", "--json"]);
    assert_eq!(code, 3, "{lost}");
    let id = lost["transaction_id"].as_str().unwrap();
    let (code, open) = till.run_json(&["reconcile", "--json"]);
    assert_eq!(code, 3, "Telesend outcomes cannot be queried: still open");
    assert_eq!(open["still_open"][0]["id"], id);
    till.add_manager("Njeri");
    // A wrong PIN is refused (exit 1) and changes nothing.
    let wrong = till
        .command(&["resolve", id, "--as", "completed", "--reason", "portal shows it paid", "--manager", "Njeri"])
        .env("KAUNTA_MANAGER_PIN", "0000")
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(1), "{}", String::from_utf8_lossy(&wrong.stderr));
    assert_eq!(till.states_of("TS-ANON-500").last().map(String::as_str), Some("unknown"));
    let (code, resolved) = till.run_json(&[
        "resolve",
        id,
        "--as",
        "completed",
        "--reason",
        "Telesend portal shows it paid",
        "--manager",
        "Njeri",
        "--json",
    ]);
    assert_eq!(code, 0, "{resolved}");
    assert_eq!(resolved["state"], "completed");
    assert!(till.audit_events().contains(&"resolved_by_manager".to_string()));
    assert_eq!(till.run(&["audit", "verify"]).status.code(), Some(0));
}

/// GiftPesa from the command line: the RSA sign-in, the redemption with our
/// transaction id, checked input, and the merchants list.
#[tokio::test]
async fn giftpesa_redeems_from_the_command_line() {
    let sim = Simulator::start();
    let till = Till::new(&sim.training_config());
    let (code, r) = till.run_json(&[
        "redeem",
        "giftpesa",
        "--name",
        "Jane Doe",
        "--phone",
        "+254 720 123 456",
        "--amount",
        "250",
        "--remarks",
        "Weekly shopping",
        "--cashier",
        "amina",
        "--json",
    ]);
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["message"], "KES 250.00 redeemed: hand over the goods");
    assert_eq!(r["code_masked"], "2547•••••456");

    // The same again at once reads as a double submission: refused, until
    // the cashier confirms a second purchase.
    let first = support::giftpesa_redeem_args("250", &[]);
    let (code, e) = till.run_json(&first);
    assert_eq!(code, 1, "{e}");
    assert_eq!(e["error"]["code"], "just_redeemed");
    let (code, r) = till.run_json(&support::giftpesa_redeem_args("250", &["--confirm-repeat"]));
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["state"], "completed");

    let (code, e) = till.run_json(&support::giftpesa_redeem_args("10.50", &[]));
    assert_eq!(code, 1);
    assert_eq!(e["error"]["code"], "invalid_amount");
    let (code, e) =
        till.run_json(&["redeem", "giftpesa", "--name", "Jane Doe", "--amount", "10", "--cashier", "a", "--json"]);
    assert_eq!(code, 1);
    assert_eq!(e["error"]["code"], "invalid_phone");

    let (code, merchants) = till.run_json(&["merchants", "giftpesa", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(merchants[0]["MerchantID"], "naivas");
    assert_eq!(till.states_of("254720123456"), ["completed", "completed"]);
}

/// A checkout from the command line that the customer pays while the till
/// is killed: the next start asks Pesapal and records the payment once.
#[tokio::test]
async fn a_pesapal_checkout_survives_a_crash_and_is_recorded_on_restart() {
    let sim = Simulator::start();
    let till = Till::new(&sim.training_config());
    let mut child = till
        .command(&["checkout", "pesapal", "--amount", "850", "--description", "Shoes", "--phone", "0723456456"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    sim.wait_for("pesapal", "GetTransactionStatus", 1).await;
    child.kill().unwrap();
    child.wait().unwrap();

    let orders = sim.pesapal_orders().await;
    let order = &orders.as_array().expect("a list of orders")[0];
    let tracking = order["order_tracking_id"].as_str().unwrap();
    sim.pesapal_order(tracking, "complete").await;

    let (code, settled) = till.run_json(&["reconcile", "--json"]);
    assert_eq!(code, 0, "{settled}");
    assert_eq!(settled["settled"][0]["state"], "completed");
    let (code, status) = till.run_json(&["status", "pesapal", tracking, "--json"]);
    assert_eq!(code, 0, "{status}");
    assert_eq!(status["state"], "completed");
    let events = till.audit_events();
    assert_eq!(events.iter().filter(|e| *e == "checkout_outcome").count(), 1, "{events:?}");
}

/// RFC 4180 records (quoted fields, doubled quotes, CRLF ends), read strictly.
fn csv_records(text: &str) -> Vec<Vec<String>> {
    let (mut records, mut record, mut field, mut quoted) = (vec![], vec![], String::new(), false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') if chars.next() == Some('\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(field.is_empty() && record.is_empty(), "the CSV ends with CRLF: {text}");
    records
}

/// The manager's history from the command line: `--csv` has one row per
/// ledger transaction (masked codes, decimal amounts, never a full code or
/// phone), filters and totals agree with the ledger, and each view and
/// export is in the audit log with who asked.
#[tokio::test]
async fn history_csv_rows_match_the_ledger() {
    let sim = Simulator::start();
    let till = Till::new(&sim.training_config());
    for code in ["TRN-ACTIVE-1200", CODE, "TRN-ACTIVE-5000"] {
        let (code, r) = till.run_json(&["redeem", "pesavoucher", code, "--cashier", "amina", "--json"]);
        assert_eq!(code, 0, "{r}");
    }
    let (code, r) = till.run_json(&[
        "redeem",
        "giftpesa",
        "--name",
        "Doe, \"JJ\" Jane",
        "--phone",
        "0720123456",
        "--amount",
        "250",
        "--cashier",
        "Baraka",
        "--json",
    ]);
    assert_eq!(code, 0, "{r}");

    let db = till.db();
    let (yesterday, tomorrow): (String, String) = db
        .query_row("SELECT date('now', 'localtime', '-1 day'), date('now', 'localtime', '+1 day')", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    let out = till.run(&["history", "--since", &yesterday, "--until", &tomorrow, "--csv", "--manager", "Njeri"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    for secret in ["DTUMJQ6ILG9", "0720123456", "254720123456"] {
        assert!(!text.contains(secret), "{secret} in the export: {text}");
    }
    let records = csv_records(&text);
    let header = &records[0];
    let col = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no {name} column"));

    let mut stmt = db
        .prepare(
            "SELECT id, created_at, code_masked, amount_minor, currency, state, cashier, customer_name, training
             FROM transactions ORDER BY created_at DESC, id DESC",
        )
        .unwrap();
    let ledger: Vec<[String; 9]> = stmt
        .query_map([], |r| {
            let text = |i| r.get::<_, Option<String>>(i).map(Option::unwrap_or_default);
            Ok([
                text(0)?,
                text(1)?,
                text(2)?,
                r.get::<_, i64>(3)?.to_string(),
                text(4)?,
                text(5)?,
                text(6)?,
                text(7)?,
                (r.get::<_, i64>(8)? == 1).to_string(),
            ])
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ledger.len(), 4);
    let columns = [
        "transaction_id",
        "utc_time",
        "code_masked",
        "amount_minor",
        "currency",
        "state",
        "cashier",
        "customer_name",
        "training",
    ];
    let exported: Vec<[String; 9]> = records[1..].iter().map(|r| columns.map(|c| r[col(c)].clone())).collect();
    assert_eq!(exported, ledger, "one CSV row per transaction, newest first");
    let amount = |masked_tail: &str| {
        let r = records.iter().find(|r| r[col("code_masked")].ends_with(masked_tail)).unwrap();
        (r[col("amount")].clone(), r[col("currency")].clone())
    };
    assert_eq!(amount("1200"), ("1200.50".to_string(), "KES".to_string()));
    assert_eq!(amount("456"), ("250.00".to_string(), "KES".to_string()));
    assert!(text.contains("\"Doe, \"\"JJ\"\" Jane\""), "{text}");

    // Filters and totals from the same ledger.
    let (code, rows) = till.run_json(&["history", "--provider", "giftpesa", "--json"]);
    assert_eq!(code, 0, "{rows}");
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["cashier"], "Baraka");
    let (_, rows) = till.run_json(&["history", "--search", "dtumjq", "--cashier", "AMINA", "--json"]);
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert!(rows[0]["code_masked"].as_str().unwrap().ends_with("NISE"));
    let (code, totals) = till.run_json(&["history", "--status", "completed", "--totals", "--json"]);
    assert_eq!(code, 0, "{totals}");
    let kes = &totals["by_currency"][0];
    assert_eq!((kes["currency"].as_str(), kes["training"].as_bool()), (Some("KES"), Some(true)));
    let sum: i64 = ledger.iter().map(|r| r[3].parse::<i64>().unwrap()).sum();
    assert_eq!(kes["completed_minor"], sum);
    assert_eq!(kes["completed_minor"], 120_050 + 75_000 + 500_000 + 25_000);

    let out = till.run(&["history", "--since", "25/11/2026", "--csv"]);
    assert_eq!(out.status.code(), Some(2), "a bad date is a usage error");

    let audit: Vec<(String, String, String)> = db
        .prepare("SELECT event, actor, details FROM audit_log WHERE event LIKE 'history_%' ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let events: Vec<&str> = audit.iter().map(|a| a.0.as_str()).collect();
    assert_eq!(events, ["history_exported", "history_viewed", "history_viewed", "history_viewed"]);
    assert_eq!(audit[0].1, "Njeri");
    assert!(audit[0].2.starts_with("4 rows as CSV; since "), "{}", audit[0].2);
    assert!(!audit[2].2.to_uppercase().contains("DTUMJQ"), "the search is masked in the log: {}", audit[2].2);
    assert_eq!(till.run(&["audit", "verify"]).status.code(), Some(0));
}

#[tokio::test]
async fn a_manager_sees_the_bitpesa_balances_and_pays_a_refund_from_the_cli() {
    let sim = Simulator::start();
    let till = Till::new(&sim.training_config());
    till.add_manager("Njeri");

    let (code, balances) = till.run_json(&["balances", "bitpesa", "--manager", "Njeri", "--json"]);
    assert_eq!(code, 0, "{balances}");
    let kes = balances.as_array().unwrap().iter().find(|b| b["currency"] == "KES").unwrap().clone();
    assert_eq!(kes["amount"]["display"], "KES 500,000.00");

    let pay = support::bitpesa_payout_args(&["--json"]);
    let (code, paid) = till.run_json(&pay);
    assert_eq!(code, 0, "{paid}");
    assert_eq!(paid["state"], "completed");
    assert_eq!(paid["provider_state"], "paid");
    assert_eq!(paid["recipient"], "Amina W. 2547•••••678");
    assert!(paid["receipt"]["path"].as_str().is_some_and(|p| p.ends_with(".pdf")), "{paid}");
    let state = sim.bitpesa_state().await;
    assert_eq!(state["balances"]["KES"], "498500");
    assert_eq!(state["sender_creations"], 1);

    // A second payout re-uses the store's sender.
    let (code, _) = till.run_json(&pay);
    assert_eq!(code, 0);
    assert_eq!(sim.bitpesa_state().await["sender_creations"], 1);

    // A wrong PIN approves nothing: refused, nothing sent.
    let out = till.command(&pay).env("KAUNTA_MANAGER_PIN", "0000").output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(sim.bitpesa_state().await["transaction_creations"], 2);

    let events = till.audit_events();
    for step in ["balances_viewed", "payout_created", "payout_funded", "payout_outcome", "receipt_printed"] {
        assert!(events.iter().any(|e| e == step), "{step} missing: {events:?}");
    }
    assert_eq!(till.run(&["audit", "verify"]).status.code(), Some(0));
}

#[tokio::test]
async fn a_failed_bitpesa_payout_is_cancelled_from_the_cli_and_the_balance_refunded() {
    let sim = Simulator::start();
    let till = Till::new(&sim.training_config());
    till.add_manager("Njeri");
    let (code, failed) = till.run_json(&[
        "payout",
        "bitpesa",
        "--corridor",
        "KES::Mobile",
        "--amount",
        "2500",
        "--first-name",
        "Amina",
        "--last-name",
        "Wanjiru",
        "--phone",
        "+254712345619",
        "--reason",
        "Refund",
        "--manager",
        "Njeri",
        "--wait",
        "5",
        "--json",
    ]);
    assert_eq!(code, 3, "still open: {failed}");
    assert_eq!(failed["state"], "pending");
    assert_eq!(failed["recipient_state"], "error");
    assert_eq!(failed["may_cancel"], true);
    assert_eq!(sim.bitpesa_state().await["balances"]["KES"], "497500");
    let id = failed["transaction_id"].as_str().unwrap().to_string();

    let (code, cancelled) = till.run_json(&["payout", "cancel", &id, "--manager", "Njeri", "--json"]);
    assert_eq!(code, 0, "{cancelled}");
    assert_eq!(cancelled["state"], "failed");
    assert_eq!(cancelled["provider_state"], "refunded");
    assert_eq!(sim.bitpesa_state().await["balances"]["KES"], "500000");

    let (code, status) = till.run_json(&["payout", "status", &id, "--json"]);
    assert_eq!(code, 1, "{status}");
    assert_eq!(status["state"], "failed");
    let (code, again) = till.run_json(&["payout", "cancel", &id, "--manager", "Njeri", "--json"]);
    assert_eq!(code, 1);
    assert_eq!(again["error"]["code"], "cannot_cancel");
    assert_eq!(till.run(&["audit", "verify"]).status.code(), Some(0));
}

/// `kaunta providers`: a monitoring script learns from the exit code whether
/// every provider can be reached, and from the JSON which one cannot.
#[tokio::test]
async fn providers_reports_which_provider_cannot_be_reached() {
    let sim = Simulator::start();
    let till = Till::new(&sim.training_config());
    let (code, all) = till.run_json(&["providers", "--json"]);
    assert_eq!(code, 0, "{all}");
    assert_eq!(all.as_array().unwrap().len(), 5);
    assert!(all.as_array().unwrap().iter().all(|p| p["reach"] == "up"), "{all}");

    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let config = sim
        .training_config()
        .replace(&format!("base_url = \"{}\"", sim.pesapal), &format!("base_url = \"http://{dead}/v3\""));
    let till = Till::new(&config);
    let (code, all) = till.run_json(&["providers", "--json"]);
    assert_eq!(code, 1, "{all}");
    let pesapal = all.as_array().unwrap().iter().find(|p| p["provider"] == "pesapal").unwrap();
    assert_eq!(pesapal["reach"], "down");
    assert!(pesapal["message"].as_str().unwrap().starts_with("Pesapal cannot be reached"));
    let out = till.run(&["providers"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.lines().any(|l| l.starts_with("PesaVoucher") && l.ends_with("reachable")), "{text}");
    assert!(text.contains("Pesapal      Pesapal cannot be reached"), "{text}");
}

/// A manager backs up from the command line to another folder (a USB stick);
/// the backup verifies with the same head, and a copy with one audit row
/// edited does not: exit 1, naming the row. Failures are refused and audited.
#[tokio::test]
async fn a_backup_from_the_cli_verifies_and_a_tampered_copy_does_not() {
    let sim = Simulator::start();
    let till = Till::new(&sim.training_config());
    till.add_manager("Njeri");
    for code in ["TRN-ACTIVE-1200", "TRN-ACTIVE-5000"] {
        assert!(till.run(&["redeem", "pesavoucher", code, "--cashier", "amina"]).status.success());
    }
    let usb = tempfile::tempdir().unwrap();
    let to = usb.path().to_str().unwrap();
    let (code, made) = till.run_json(&["backup", "--to", to, "--manager", "Njeri", "--json"]);
    assert_eq!(code, 0, "{made}");
    assert_eq!(made["transactions"], 2);
    let path = made["path"].as_str().unwrap().to_string();
    assert_eq!(std::path::Path::new(&path).parent().unwrap(), usb.path());
    assert!(till.audit_events().iter().any(|e| e == "backup_made"));

    // Checking needs no manager and no till: only the file.
    let (code, checked) = till.run_json(&["backup", "verify", &path, "--json"]);
    assert_eq!(code, 0, "{checked}");
    for field in ["transactions", "audit_rows", "head"] {
        assert_eq!(checked[field], made[field], "{field}");
    }
    // No shift has closed at this till: nothing kept in the keyring to check against.
    assert_eq!(checked["anchor"]["status"], "none", "{checked}");
    let out = till.run(&["backup", "verify", &path]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with(&format!("OK: {path} is intact: 2 transaction(s)")), "{text}");
    assert!(text.contains("anchor: none yet"), "{text}");

    let copy = usb.path().join("copy.sqlite3");
    std::fs::copy(&path, &copy).unwrap();
    let db = rusqlite::Connection::open(&copy).unwrap();
    db.execute_batch("DROP TRIGGER audit_log_no_update").unwrap();
    let target: i64 = db
        .query_row("SELECT seq FROM audit_log WHERE amount_minor IS NOT NULL ORDER BY seq LIMIT 1", [], |r| r.get(0))
        .unwrap();
    db.execute("UPDATE audit_log SET amount_minor = 100 WHERE seq = ?1", [target]).unwrap();
    drop(db);
    let copy = copy.to_str().unwrap();
    let out = till.run(&["backup", "verify", copy]);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains(&format!("is broken at row {target}: its content does not match its hash")), "{said}");
    assert!(said.contains("Do not restore from this file."), "{said}");
    let (code, refused) = till.run_json(&["backup", "verify", copy, "--json"]);
    assert_eq!((code, refused["error"]["code"].as_str()), (1, Some("backup_chain_broken")), "{refused}");
    assert_eq!(till.run(&["backup", "verify", &path]).status.code(), Some(0), "the original is untouched");

    // A wrong PIN makes nothing; a folder that is not there is named, and audited.
    let out = till.command(&["backup", "--to", to, "--manager", "Njeri"]).env("KAUNTA_MANAGER_PIN", "0000").output();
    assert_eq!(out.unwrap().status.code(), Some(1));
    let missing = usb.path().join("not-plugged-in");
    let (code, failed) = till.run_json(&["backup", "--to", missing.to_str().unwrap(), "--manager", "Njeri", "--json"]);
    assert_eq!((code, failed["error"]["code"].as_str()), (1, Some("backup_dir_missing")), "{failed}");
    assert!(till.audit_events().iter().any(|e| e == "backup_failed"));
    assert_eq!(std::fs::read_dir(usb.path()).unwrap().count(), 2, "the backup and the tampered copy, nothing else");
    assert_eq!(till.run(&["audit", "verify"]).status.code(), Some(0));
}
