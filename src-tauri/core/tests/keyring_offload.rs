//! Credentials outside training come from the system keyring, read and
//! written off the async workers (a secret-service call is a blocking D-Bus
//! round trip). Needs a D-Bus session with an unlocked keyring.

mod support;

use kaunta_core::Till;
use kaunta_core::config::{Environment, ProviderConfig};
use kaunta_core::providers::ProviderId;
use kaunta_core::training::{TRAINING_API_KEY, TRAINING_API_SECRET};

/// One worker: a keyring call left on it would hold up everything else.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_sandbox_till_saves_and_reads_its_credentials_through_the_keyring() {
    let training = support::till().await;
    let base = training.till.simulators().unwrap().base_url(ProviderId::PesaVoucher);
    let dir = tempfile::tempdir().unwrap();
    support::write_config(dir.path(), |c| {
        c.environment = Environment::Sandbox;
        c.providers
            .insert(ProviderId::PesaVoucher, ProviderConfig { base_url: Some(base.to_string()), ..Default::default() });
    });
    let till = Till::open(dir.path(), support::options()).await.unwrap();
    let before = till.validate_voucher("Amina", support::ACTIVE).await.unwrap_err();
    assert_eq!(before.code(), "credentials_missing", "{before:?}");

    let json = serde_json::json!({"api_key": TRAINING_API_KEY, "api_secret": TRAINING_API_SECRET});
    assert_eq!(till.set_credentials(ProviderId::PesaVoucher, json, "Njeri").await.unwrap(), Environment::Sandbox);
    let valid = till.validate_voucher("Amina", support::ACTIVE).await.unwrap();
    assert!(valid.valid, "the keyring's credentials reached PesaVoucher");
}
