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
