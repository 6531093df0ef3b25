//! Shared by the core's integration tests: a till in its own data directory,
//! in training mode, with its own simulators and keyring service.
#![allow(dead_code)]

use std::path::Path;

use kaunta_core::config::Config;
use kaunta_core::{Till, TillOptions};

pub struct TestTill {
    pub dir: tempfile::TempDir,
    pub till: Till,
}

pub fn write_config(dir: &Path, edit: impl FnOnce(&mut Config)) {
    let mut config = Config::default();
    // Unit tests save receipts; printing is proven by the end-to-end suite.
    config.receipt.print = false;
    edit(&mut config);
    config.save(dir).unwrap();
}

pub async fn till() -> TestTill {
    till_with(|_| {}).await
}

pub async fn till_with(edit: impl FnOnce(&mut Config)) -> TestTill {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), edit);
    let till = Till::open(dir.path(), options()).await.unwrap();
    TestTill { dir, till }
}

pub fn options() -> TillOptions {
    TillOptions { keyring_service: format!("kaunta-test-{}", uuid::Uuid::now_v7()) }
}

pub const ACTIVE: &str = "NLV-DTUMJQ6ILG9WNISE";

/// What must never reach a cashier's screen (raw JSON or markup, transport
/// internals, paths, debug dumps) and the longest message: one list, shared
/// with the fuzz targets.
pub use kaunta_core::fuzzing::{MAX_MESSAGE, NOT_PLAIN};

/// Asserts `message` is plain words for a cashier: bounded, one line, no
/// markup, JSON or internals. `cell` names the case in the failure.
pub fn assert_plain(cell: &str, message: &str) {
    assert!(!message.trim().is_empty(), "{cell}: empty message");
    assert!(message.chars().count() <= MAX_MESSAGE, "{cell}: message of {} chars: {message}", message.len());
    assert!(!message.chars().any(char::is_control), "{cell}: control characters in {message:?}");
    for bad in NOT_PLAIN {
        assert!(!message.contains(bad), "{cell}: message carries {bad:?}: {message}");
    }
}

/// Rows in `transactions`, straight from the file.
pub fn transaction_count(till: &Till) -> i64 {
    rusqlite::Connection::open(till.ledger().path())
        .unwrap()
        .query_row("SELECT COUNT(*) FROM transactions", [], |r| r.get(0))
        .unwrap()
}

/// Audit rows of one event kind.
pub fn audit_count(till: &Till, event: &str) -> i64 {
    rusqlite::Connection::open(till.ledger().path())
        .unwrap()
        .query_row("SELECT COUNT(*) FROM audit_log WHERE event = ?1", [event], |r| r.get(0))
        .unwrap()
}

/// The whole audit chain verifies.
pub fn assert_audit_intact(cell: &str, till: &Till) {
    let v = till.ledger().verify_audit(|_| {}).unwrap();
    assert_eq!(v.first_bad, None, "{cell}: audit chain broken");
}
