//! The data directory and its `config.toml`: which environment the till runs
//! in, who it is, and where each provider lives.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::providers::ProviderId;
use crate::text;

pub const CONFIG_FILE: &str = "config.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("Cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("Cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("The {provider} address “{url}” is not a valid URL")]
    BadUrl { provider: ProviderId, url: String },
    #[error("The {provider} address must use https (plain http is allowed only to this computer): {url}")]
    InsecureUrl { provider: ProviderId, url: String },
    #[error(
        "{provider} publishes no address: a manager must enter its base URL in Settings \
         ([providers.{provider}] base_url in config.toml)"
    )]
    NoBaseUrl { provider: ProviderId },
    #[error("Training mode talks only to simulators on this computer, not to {url}")]
    TrainingNotLoopback { url: String },
    #[error("No home or application-data folder was found: pass --data-dir")]
    NoDataDir,
    #[error("The till id must be 1 to 32 letters, digits or dashes")]
    BadTillId,
    #[error("The store name must be 1 to 60 printable characters")]
    BadStoreName,
    #[error("[backup] dir must name a folder (a USB stick or network share), in printable characters")]
    BadBackupDir,
    #[error("[backup] keep must be 1 to {MAX_BACKUPS_KEPT}: how many of the newest backups to keep")]
    BadBackupKeep,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    #[default]
    Training,
    Sandbox,
    Live,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Training => "training",
            Environment::Sandbox => "sandbox",
            Environment::Live => "live",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Environment {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "training" => Ok(Environment::Training),
            "sandbox" => Ok(Environment::Sandbox),
            "live" => Ok(Environment::Live),
            other => Err(format!("unknown environment “{other}”: use training, sandbox or live")),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Telesend: the merchant id this till redeems for (another merchant's
    /// unrestricted vouchers can be redeemed here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant_id: Option<u64>,
    /// GiftPesa: the `key.crt` from its dashboard (public); relative paths
    /// are inside the data directory. Default: `giftpesa/key.crt` there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<PathBuf>,
    /// GiftPesa: the store's M-Pesa till number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub till_number: Option<String>,
    /// Pesapal: where the customer's browser goes after paying (https). The
    /// checkout window never loads it; a phone paying by QR code does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    /// BitPesa: the store as the sender of its payouts (`[providers.bitpesa.sender]`).
    /// Created at BitPesa once and re-used by its `external_id`. Training
    /// mode fills in a sample store when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<SenderConfig>,
}

/// A business sender as BitPesa's "Business senders" lists it: name,
/// country of incorporation, trading address and contact. Required fields
/// are checked when the first payout needs the sender, with a message
/// naming what is missing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SenderConfig {
    /// Our id for the store at BitPesa (its `external_id`). Default: derived
    /// from the store name; keep it unchanged once payouts have been made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The business name. Default: `store_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Country of incorporation and trading country, ISO 3166-1 alpha-2. Default: KE.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// E.164, e.g. +254700123456.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Company registration number, if the store wants it on file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_number: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiptConfig {
    /// Print each receipt through CUPS; the PDF is saved either way.
    #[serde(default = "yes")]
    pub print: bool,
    /// A CUPS queue name; the system default printer when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub printer: Option<String>,
}

fn yes() -> bool {
    true
}

impl Default for ReceiptConfig {
    fn default() -> Self {
        ReceiptConfig { print: true, printer: None }
    }
}

/// The most backups `[backup] keep` may ask for: past that, pruning is no
/// longer what keeps a stick from filling up.
pub const MAX_BACKUPS_KEPT: u32 = 1_000;

/// Copies of the ledger (see `backup`): where they go, how many are kept,
/// and whether each Z close makes one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupConfig {
    /// A folder, best on another disk (a USB stick, a network share);
    /// relative paths are inside the data directory. Default: `backups`
    /// there, which survives a damaged database file but not a dead disk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// How many of this till's newest backups to keep in `dir`; older ones
    /// of this till are deleted, nothing else in the folder is touched.
    #[serde(default = "default_backups_kept")]
    pub keep: u32,
    /// Back up after every Z close.
    #[serde(default = "yes")]
    pub at_shift_close: bool,
}

fn default_backups_kept() -> u32 {
    14
}

impl Default for BackupConfig {
    fn default() -> Self {
        BackupConfig { dir: None, keep: default_backups_kept(), at_shift_close: true }
    }
}

impl BackupConfig {
    fn is_default(&self) -> bool {
        *self == BackupConfig::default()
    }

    /// The folder backups go to, for the till whose data is in `data_dir`.
    pub fn dir_in(&self, data_dir: &Path) -> PathBuf {
        match &self.dir {
            Some(dir) => data_dir.join(dir),
            None => data_dir.join("backups"),
        }
    }

    fn check(&self) -> Result<(), ConfigError> {
        if let Some(dir) = &self.dir {
            let text = dir.to_string_lossy();
            if text.trim().is_empty() || text.chars().any(char::is_control) || dir.to_str().is_none() {
                return Err(ConfigError::BadBackupDir);
            }
        }
        if !(1..=MAX_BACKUPS_KEPT).contains(&self.keep) {
            return Err(ConfigError::BadBackupKeep);
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub environment: Environment,
    #[serde(default = "default_store_name")]
    pub store_name: String,
    #[serde(default = "default_till_id")]
    pub till_id: String,
    #[serde(default)]
    pub receipt: ReceiptConfig,
    #[serde(default)]
    pub providers: BTreeMap<ProviderId, ProviderConfig>,
    #[serde(default, skip_serializing_if = "BackupConfig::is_default")]
    pub backup: BackupConfig,
}

fn default_store_name() -> String {
    "Kaunta Training Store".into()
}

fn default_till_id() -> String {
    "TILL-1".into()
}

impl Default for Config {
    fn default() -> Self {
        Config {
            environment: Environment::Training,
            store_name: default_store_name(),
            till_id: default_till_id(),
            receipt: ReceiptConfig::default(),
            providers: BTreeMap::new(),
            backup: BackupConfig::default(),
        }
    }
}

/// Where a provider's requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// Start the built-in simulator (training mode with no override).
    BuiltInSimulator,
    Remote(Url),
}

impl Config {
    /// Reads `config.toml` from the data directory; a missing file means the
    /// defaults (training mode), so a new till starts without any setup.
    pub fn load(data_dir: &Path) -> Result<Config, ConfigError> {
        let path = data_dir.join(CONFIG_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(source) => return Err(ConfigError::Read { path, source }),
        };
        let config: Config = toml::from_str(&text)
            .map_err(|e| ConfigError::Parse { path: path.clone(), message: text::excerpt(e.message(), 200) })?;
        config.check()?;
        Ok(config)
    }

    pub fn save(&self, data_dir: &Path) -> Result<(), ConfigError> {
        self.check()?;
        let path = data_dir.join(CONFIG_FILE);
        let text = toml::to_string_pretty(self)
            .map_err(|e| ConfigError::Parse { path: path.clone(), message: e.to_string() })?;
        // Write then rename, so a crash never leaves half a config behind.
        let tmp = data_dir.join(".config.toml.tmp");
        std::fs::write(&tmp, text).map_err(|source| ConfigError::Write { path: tmp.clone(), source })?;
        std::fs::rename(&tmp, &path).map_err(|source| ConfigError::Write { path, source })
    }

    /// Every rule a config must keep, checked on load and before save.
    pub fn check(&self) -> Result<(), ConfigError> {
        let till_ok = (1..=32).contains(&self.till_id.len())
            && self.till_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !till_ok {
            return Err(ConfigError::BadTillId);
        }
        let name_len = self.store_name.chars().count();
        if !(1..=60).contains(&name_len) || self.store_name.chars().any(char::is_control) {
            return Err(ConfigError::BadStoreName);
        }
        self.backup.check()?;
        for (provider, settings) in &self.providers {
            if settings.base_url.is_some() {
                self.endpoint(*provider)?;
            }
        }
        Ok(())
    }

    pub fn is_training(&self) -> bool {
        self.environment == Environment::Training
    }

    pub fn endpoint(&self, provider: ProviderId) -> Result<Endpoint, ConfigError> {
        let override_url = self.providers.get(&provider).and_then(|p| p.base_url.as_deref());
        let raw = match (override_url, self.environment) {
            (Some(url), _) => url,
            (None, Environment::Training) => return Ok(Endpoint::BuiltInSimulator),
            (None, Environment::Sandbox) => provider.sandbox_url().ok_or(ConfigError::NoBaseUrl { provider })?,
            (None, Environment::Live) => provider.live_url().ok_or(ConfigError::NoBaseUrl { provider })?,
        };
        // The address is quoted back short and clean: a paste can be a
        // megabyte of anything.
        let quoted = || text::excerpt(raw.trim(), text::SHORT);
        let url = Url::parse(raw).map_err(|_| ConfigError::BadUrl { provider, url: quoted() })?;
        let loopback = is_loopback(&url);
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => {
                return Err(ConfigError::InsecureUrl { provider, url: quoted() });
            }
        }
        if self.is_training() && !loopback {
            return Err(ConfigError::TrainingNotLoopback { url: quoted() });
        }
        Ok(Endpoint::Remote(url))
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// `--data-dir` when given, else the OS application-data folder
/// (`~/.local/share/kaunta` on Linux).
pub fn resolve_data_dir(explicit: Option<&Path>) -> Result<PathBuf, ConfigError> {
    let dir = match explicit {
        Some(dir) => dir.to_path_buf(),
        None => directories::ProjectDirs::from("africa", "Kaunta", "kaunta")
            .ok_or(ConfigError::NoDataDir)?
            .data_dir()
            .to_path_buf(),
    };
    std::fs::create_dir_all(&dir).map_err(|source| ConfigError::Write { path: dir.clone(), source })?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_url(env: Environment, url: &str) -> Config {
        let mut c = Config { environment: env, ..Config::default() };
        c.providers.insert(
            ProviderId::PesaVoucher,
            ProviderConfig { base_url: Some(url.into()), ..ProviderConfig::default() },
        );
        c
    }

    #[test]
    fn a_missing_config_means_training_mode() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::load(dir.path()).unwrap();
        assert!(c.is_training());
        assert_eq!(c.endpoint(ProviderId::PesaVoucher).unwrap(), Endpoint::BuiltInSimulator);
    }

    #[test]
    fn sandbox_and_live_default_to_the_documented_urls() {
        let sandbox = Config { environment: Environment::Sandbox, ..Config::default() };
        let live = Config { environment: Environment::Live, ..Config::default() };
        assert_eq!(
            sandbox.endpoint(ProviderId::PesaVoucher).unwrap(),
            Endpoint::Remote(Url::parse("https://sandbox.payments.pesavoucher.com/api/v1").unwrap())
        );
        assert_eq!(
            live.endpoint(ProviderId::PesaVoucher).unwrap(),
            Endpoint::Remote(Url::parse("https://payments.pesavoucher.com/api/v1").unwrap())
        );
    }

    #[test]
    fn plain_http_is_only_for_loopback() {
        for ok in ["http://127.0.0.1:9/api", "http://localhost:8080/", "http://[::1]:1/", "https://example.com/"] {
            assert!(with_url(Environment::Live, ok).check().is_ok(), "{ok}");
        }
        for bad in ["http://10.0.0.1/api", "http://example.com/", "ftp://127.0.0.1/", "http://127.0.0.1.example.com/"] {
            assert!(
                matches!(
                    with_url(Environment::Live, bad).check(),
                    Err(ConfigError::InsecureUrl { .. }) | Err(ConfigError::BadUrl { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn training_never_talks_to_a_remote_host() {
        assert!(matches!(
            with_url(Environment::Training, "https://payments.pesavoucher.com/api/v1").check(),
            Err(ConfigError::TrainingNotLoopback { .. })
        ));
    }

    #[test]
    fn config_round_trips_and_rejects_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = with_url(Environment::Sandbox, "http://127.0.0.1:1234/api/v1");
        c.store_name = "Duka la Mama Njeri".into();
        c.receipt.printer = Some("PDF".into());
        c.save(dir.path()).unwrap();
        assert_eq!(Config::load(dir.path()).unwrap(), c);

        std::fs::write(dir.path().join(CONFIG_FILE), "environment = \"training\"\napi_secret = \"x\"\n").unwrap();
        assert!(matches!(Config::load(dir.path()), Err(ConfigError::Parse { .. })));
        std::fs::write(dir.path().join(CONFIG_FILE), "environment = \"production\"\n").unwrap();
        assert!(matches!(Config::load(dir.path()), Err(ConfigError::Parse { .. })));
    }

    #[test]
    fn backups_default_to_the_data_dir_and_bad_settings_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let c = Config::load(dir.path()).unwrap();
        assert_eq!(c.backup, BackupConfig { dir: None, keep: 14, at_shift_close: true });
        assert_eq!(c.backup.dir_in(dir.path()), dir.path().join("backups"));

        std::fs::write(
            dir.path().join(CONFIG_FILE),
            "[backup]\ndir = \"/media/usb/kaunta\"\nkeep = 30\nat_shift_close = false\n",
        )
        .unwrap();
        let c = Config::load(dir.path()).unwrap();
        assert_eq!(c.backup.dir_in(dir.path()), PathBuf::from("/media/usb/kaunta"));
        assert_eq!((c.backup.keep, c.backup.at_shift_close), (30, false));
        c.save(dir.path()).unwrap();
        assert_eq!(Config::load(dir.path()).unwrap(), c, "kept through a save");

        for (toml, expected) in [
            ("[backup]\nkeep = 0\n", "[backup] keep must be 1 to 1000: how many of the newest backups to keep"),
            ("[backup]\nkeep = 1001\n", "[backup] keep must be 1 to 1000: how many of the newest backups to keep"),
            (
                "[backup]\ndir = \" \"\n",
                "[backup] dir must name a folder (a USB stick or network share), in printable characters",
            ),
            (
                "[backup]\ndir = \"/media/\\u0007usb\"\n",
                "[backup] dir must name a folder (a USB stick or network share), in printable characters",
            ),
        ] {
            std::fs::write(dir.path().join(CONFIG_FILE), toml).unwrap();
            assert_eq!(Config::load(dir.path()).unwrap_err().to_string(), expected, "{toml}");
        }
        std::fs::write(dir.path().join(CONFIG_FILE), "[backup]\nkeep = -1\n").unwrap();
        assert!(matches!(Config::load(dir.path()), Err(ConfigError::Parse { .. })));
        std::fs::write(dir.path().join(CONFIG_FILE), "[backup]\nevery = \"day\"\n").unwrap();
        assert!(matches!(Config::load(dir.path()), Err(ConfigError::Parse { .. })));
    }

    #[test]
    fn bad_identity_is_refused() {
        let c = Config { till_id: "till 1; rm".into(), ..Config::default() };
        assert!(matches!(c.check(), Err(ConfigError::BadTillId)));
        let c = Config { store_name: "a\u{7}b".into(), ..Config::default() };
        assert!(matches!(c.check(), Err(ConfigError::BadStoreName)));
    }
}
