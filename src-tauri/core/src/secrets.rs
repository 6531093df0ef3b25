//! Provider credentials in the OS keyring (Secret Service on Linux), and
//! nowhere else: not in SQLite, config, logs or anything that crosses IPC.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::Environment;
use crate::ledger::anchor::AuditAnchor;
use crate::providers::ProviderId;

pub const DEFAULT_SERVICE: &str = "kaunta";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "The system keyring is not available, so credentials cannot be read or saved. \
         Sign in to a desktop session with a keyring (GNOME Keyring or KWallet) and try again"
    )]
    Unavailable { detail: String },
    #[error("The keyring entry for {provider} is damaged: enter the credentials again in Settings")]
    Corrupt { provider: ProviderId },
    #[error("{0}")]
    Invalid(String),
}

/// Credentials never print: `Debug` on a credentials type must go through this.
pub struct Redacted;

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug, Clone)]
pub struct SecretStore {
    service: String,
}

impl Default for SecretStore {
    fn default() -> Self {
        SecretStore::new(DEFAULT_SERVICE)
    }
}

impl SecretStore {
    /// `service` separates stores; tests use their own so they never touch a real till's.
    pub fn new(service: impl Into<String>) -> Self {
        SecretStore { service: service.into() }
    }

    fn entry(&self, provider: ProviderId, env: Environment) -> Result<keyring::Entry, SecretError> {
        keyring::Entry::new(&self.service, &format!("{provider}/{env}")).map_err(unavailable)
    }

    pub fn get<T: DeserializeOwned>(&self, provider: ProviderId, env: Environment) -> Result<Option<T>, SecretError> {
        match self.entry(provider, env)?.get_password() {
            Ok(json) => serde_json::from_str(&json).map(Some).map_err(|_| SecretError::Corrupt { provider }),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(keyring::Error::BadEncoding(_)) => Err(SecretError::Corrupt { provider }),
            Err(e) => Err(unavailable(e)),
        }
    }

    pub fn set<T: Serialize>(&self, provider: ProviderId, env: Environment, value: &T) -> Result<(), SecretError> {
        let json = serde_json::to_string(value).map_err(|e| SecretError::Invalid(e.to_string()))?;
        self.entry(provider, env)?.set_password(&json).map_err(unavailable)
    }

    pub fn delete(&self, provider: ProviderId, env: Environment) -> Result<(), SecretError> {
        match self.entry(provider, env)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }
}

/// The audit log's head at the last shift close (see `ledger::anchor`). Not
/// a secret, but it must live outside the database it vouches for; the
/// keyring is the one place outside it every till has. One entry per till
/// and database file, so a training data directory never overwrites the
/// anchor of a live one on the same computer.
impl SecretStore {
    fn anchor_entry(&self, till_id: &str, database: &str) -> Result<keyring::Entry, SecretError> {
        keyring::Entry::new(&self.service, &format!("audit-anchor/{till_id}/{database}")).map_err(unavailable)
    }

    pub fn audit_anchor(&self, till_id: &str, database: &str) -> Result<Option<AuditAnchor>, SecretError> {
        let damaged = || SecretError::Invalid("The audit anchor kept in the keyring is damaged".into());
        match self.anchor_entry(till_id, database)?.get_password() {
            Ok(json) => serde_json::from_str(&json).map(Some).map_err(|_| damaged()),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(keyring::Error::BadEncoding(_)) => Err(damaged()),
            Err(e) => Err(unavailable(e)),
        }
    }

    pub fn set_audit_anchor(&self, anchor: &AuditAnchor) -> Result<(), SecretError> {
        let json = serde_json::to_string(anchor).map_err(|e| SecretError::Invalid(e.to_string()))?;
        self.anchor_entry(&anchor.till_id, &anchor.database)?.set_password(&json).map_err(unavailable)
    }
}

fn unavailable(e: keyring::Error) -> SecretError {
    SecretError::Unavailable { detail: e.to_string() }
}

/// One credential field: present, of a sane length, and free of control
/// characters (which would corrupt an HTTP header).
pub fn check_field(label: &str, value: &str) -> Result<(), SecretError> {
    if value.trim().is_empty() {
        return Err(SecretError::Invalid(format!("{label} is empty")));
    }
    if value.len() > 512 {
        return Err(SecretError::Invalid(format!("{label} is too long (at most 512 characters)")));
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(SecretError::Invalid(format!("{label} contains control characters")));
    }
    Ok(())
}

/// A provider's credentials as stored in the keyring.
pub trait ProviderCredentials: Serialize + DeserializeOwned {
    /// The JSON a manager provides, for error messages.
    const SHAPE: &'static str;
    fn check(&self) -> Result<(), SecretError>;
}

impl ProviderCredentials for crate::providers::pesavoucher::Credentials {
    const SHAPE: &'static str = "{\"api_key\": \"…\", \"api_secret\": \"…\"}";
    fn check(&self) -> Result<(), SecretError> {
        self.check()
    }
}

impl ProviderCredentials for crate::providers::telesend::Credentials {
    const SHAPE: &'static str = "{\"api_token\": \"…\"}";
    fn check(&self) -> Result<(), SecretError> {
        self.check()
    }
}

impl ProviderCredentials for crate::providers::bitpesa::Credentials {
    const SHAPE: &'static str = "{\"api_key\": \"…\", \"api_secret\": \"…\"}";
    fn check(&self) -> Result<(), SecretError> {
        self.check()
    }
}
