//! No secret anywhere but the keyring (issue 7, DESIGN.md invariant 6):
//! credentials saved for sandbox, then a full training-mode run (staff,
//! every counter provider, a refund, a BitPesa payout, history, an export, a shift close,
//! audit verification); afterwards every file in the data directory
//! (SQLite and its -wal, config, receipts, reports, exports) and every
//! result a command would send over IPC is scanned for the secrets.
//! Needs a keyring (scripts/test runs the suite in a D-Bus session with a
//! fresh gnome-keyring).

mod support;

use std::path::Path;

use kaunta_core::ledger::history::HistoryFilter;
use kaunta_core::providers::ProviderId;
use kaunta_core::redeem::giftpesa::GiftPesaInput;
use kaunta_core::redeem::payout::PayoutInput;
use kaunta_core::redeem::pesapal::CheckoutInput;
use serde::Serialize;
use support::ACTIVE;

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_leaves_the_keyring_after_a_full_run() {
    let t = support::till().await;
    let till = &t.till;
    let tag = uuid::Uuid::now_v7().simple().to_string();
    let secret = |name: &str| format!("S3cret{name}{tag}");
    let credentials = [
        (ProviderId::PesaVoucher, serde_json::json!({"api_key": secret("PvKey"), "api_secret": secret("PvSecret")})),
        (ProviderId::Telesend, serde_json::json!({"api_token": secret("TsToken")})),
        (ProviderId::GiftPesa, serde_json::json!({"username": "store-1", "api_key": secret("GpKey")})),
        (
            ProviderId::Pesapal,
            serde_json::json!({"consumer_key": secret("PpKey"), "consumer_secret": secret("PpSecret")}),
        ),
        (ProviderId::BitPesa, serde_json::json!({"api_key": secret("BpKey"), "api_secret": secret("BpSecret")})),
    ];
    let pin = "97531864";
    let mut secrets: Vec<String> = ["PvKey", "PvSecret", "TsToken", "GpKey", "PpKey", "PpSecret", "BpKey", "BpSecret"]
        .iter()
        .map(|n| secret(n))
        .collect();
    secrets.push(pin.to_string());

    // What the window would receive, serialized as IPC does.
    let mut ipc: Vec<String> = Vec::new();
    fn keep<T: Serialize>(ipc: &mut Vec<String>, value: &T) {
        ipc.push(serde_json::to_string(value).unwrap());
    }

    for (provider, json) in credentials {
        let env = till.set_credentials(provider, json, "Njeri").await.unwrap();
        keep(&mut ipc, &env);
    }
    keep(&mut ipc, &till.credential_status());
    // A rejected save must not echo what was typed either.
    let refused = till
        .set_credentials(ProviderId::Pesapal, serde_json::json!({"consumer_key": secret("PpKey")}), "Njeri")
        .await
        .unwrap_err();
    keep(&mut ipc, &refused.to_public());

    let manager = till.create_first_manager("Njeri", pin).await.unwrap();
    keep(&mut ipc, &manager);
    keep(&mut ipc, &till.check_pin("Njeri", pin, "sign_in").await.unwrap());
    keep(&mut ipc, &till.check_pin("Njeri", "1111", "sign_in").await.unwrap_err().to_public());

    keep(&mut ipc, &till.validate_voucher("Njeri", ACTIVE).await.unwrap());
    keep(&mut ipc, &till.redeem_voucher("Njeri", ACTIVE).await.unwrap());
    let claim = till.claim_gift("Njeri", "TS-GIFT-1000", Some("400")).await.unwrap();
    keep(&mut ipc, &claim);
    keep(&mut ipc, &till.redeem_gift("Njeri", "TS-GIFT-1000", claim.training_sms_code.as_deref()).await.unwrap());
    keep(&mut ipc, &till.redeem_gift("Njeri", "TS-ANON-500", None).await.unwrap());
    let gift = GiftPesaInput {
        name: "Jane Doe".into(),
        phone: "0720123456".into(),
        amount: "100".into(),
        till: None,
        remarks: None,
        confirm_repeat: false,
    };
    keep(&mut ipc, &till.redeem_giftpesa("Njeri", &gift).await.unwrap());
    let checkout = CheckoutInput {
        amount: "300".into(),
        description: "Groceries".into(),
        phone: Some("0723456456".into()),
        ..CheckoutInput::default()
    };
    let started = till.checkout_pesapal("Njeri", &checkout).await.unwrap();
    keep(&mut ipc, &started);
    assert!(till.simulators().unwrap().pesapal.complete(&started.order_tracking_id));
    keep(&mut ipc, &till.pesapal_status("Njeri", &started.transaction_id).await.unwrap());
    keep(&mut ipc, &till.pesapal_ipns().await.unwrap());
    keep(&mut ipc, &till.refund_voucher(&manager, "customer@example.com", "500", Some("Sorry")).await.unwrap());
    // BitPesa signs every request with its secret: balances, a payout followed to paid.
    keep(&mut ipc, &till.bitpesa_balances(&manager).await.unwrap());
    let payout = PayoutInput {
        corridor: "KES::Mobile".into(),
        amount: "1500".into(),
        recipient: [("first_name", "Amina"), ("last_name", "Wanjiru"), ("phone_number", "0712345678")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        reason: "Refund of order 123".into(),
    };
    let started = till.start_payout(&manager, &payout).await.unwrap();
    keep(&mut ipc, &started);
    let paid = till.follow_payout("Njeri", &started.transaction_id, std::time::Duration::from_secs(10)).await.unwrap();
    assert_eq!(paid.state, "completed", "{paid:?}");
    keep(&mut ipc, &paid);
    keep(&mut ipc, &till.recent_payouts(10).await.unwrap());

    let filter = HistoryFilter::default();
    keep(&mut ipc, &till.history_view("Njeri", filter.clone(), None, 100).await.unwrap());
    let recent = till.recent(50).await.unwrap();
    for row in &recent {
        keep(&mut ipc, &till.transaction_detail("Njeri", &row.id).await.unwrap());
    }
    keep(&mut ipc, &recent);
    let export_dir = t.dir.path().join("exports");
    std::fs::create_dir_all(&export_dir).unwrap();
    let csv = std::fs::File::create(export_dir.join("history.csv")).unwrap();
    keep(&mut ipc, &till.export_history_csv("Njeri", filter, csv, 1_000, |_| {}).await.unwrap());
    keep(&mut ipc, &till.close_shift(&manager).await.unwrap());
    keep(&mut ipc, &till.verify_audit_with_progress("Njeri", |_, _| {}).await.unwrap());

    // The keyring really holds them (so the scan below is not vacuous).
    assert!(till.credential_status().iter().filter(|s| s.configured).count() >= 5);

    let scanned = files(t.dir.path());
    assert!(scanned.iter().any(|p| p.extension().is_some_and(|e| e == "pdf")), "receipts were saved: {scanned:?}");
    assert!(scanned.iter().any(|p| p.to_string_lossy().ends_with("-wal")), "the WAL is scanned: {scanned:?}");
    let mut leaks = Vec::new();
    for path in &scanned {
        let bytes = std::fs::read(path).unwrap();
        for s in &secrets {
            if contains(&bytes, s.as_bytes()) {
                leaks.push(format!("{} holds {s}", path.display()));
            }
        }
    }
    for (n, answer) in ipc.iter().enumerate() {
        for s in &secrets {
            if answer.contains(s.as_str()) {
                leaks.push(format!("IPC answer {n} holds {s}: {answer}"));
            }
        }
    }
    assert!(leaks.is_empty(), "secrets outside the keyring:\n{}", leaks.join("\n"));
}
