//! One till: its configuration, ledger, credentials, provider clients and,
//! in training mode, its simulators. The window and every headless command
//! open one of these and go through the same flows.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use crate::config::{Config, Endpoint, Environment};
use crate::error::FlowError;
use crate::export::{self, ExportError, ExportSummary};
use crate::ledger::anchor::AnchoredVerification;
use crate::ledger::history::{DailyTotals, HistoryCursor, HistoryFilter, HistoryPage, HistoryTotals};
use crate::ledger::{AuditEntry, AuditRow, Ledger, LedgerError, Outcome, TransactionRow, lease::Lease};
use crate::money::{Currency, Money};
use crate::providers::{ProviderId, bitpesa, giftpesa, pesapal, pesavoucher, telesend};
use crate::secrets::{ProviderCredentials, SecretError, SecretStore};
use crate::training::{self, Simulators};

#[derive(Debug, Clone)]
pub struct TillOptions {
    /// The keyring service name; tests use their own.
    pub keyring_service: String,
}

impl Default for TillOptions {
    fn default() -> Self {
        TillOptions { keyring_service: std::env::var("KAUNTA_KEYRING_SERVICE").unwrap_or_else(|_| "kaunta".into()) }
    }
}

pub struct Till {
    data_dir: PathBuf,
    config: Config,
    ledger: Arc<Ledger>,
    lease: Lease,
    secrets: SecretStore,
    simulators: Option<Simulators>,
    clients: Mutex<Clients>,
    /// How long a provider's request may take before its answer counts as
    /// lost (`unknown`): None keeps each client's own (`http::REQUEST_TIMEOUT`,
    /// BitPesa's longer one); a test shortens it to prove a silent provider quickly.
    request_timeout: Mutex<Option<Duration>>,
}

/// Where an imported GiftPesa certificate is kept, inside the data directory.
pub const GIFTPESA_CERTIFICATE: &str = "giftpesa/key.crt";

/// Provider clients, built on first use; dropped when credentials change.
#[derive(Default)]
struct Clients {
    pesavoucher: Option<Arc<pesavoucher::Client>>,
    telesend: Option<Arc<telesend::Client>>,
    giftpesa: Option<Arc<giftpesa::Client>>,
    pesapal: Option<Arc<pesapal::Client>>,
    bitpesa: Option<Arc<bitpesa::Client>>,
}

/// Amounts as the UI shows them: exact minor units plus the formatted text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MoneyView {
    pub minor: i64,
    pub currency: String,
    pub display: String,
}

impl From<Money> for MoneyView {
    fn from(m: Money) -> Self {
        MoneyView { minor: m.minor, currency: m.currency.code().into(), display: m.to_string() }
    }
}

impl MoneyView {
    pub fn from_parts(minor: Option<i64>, currency: Option<&str>) -> Option<MoneyView> {
        let currency: Currency = currency?.parse().ok()?;
        Some(Money::new(minor?, currency).into())
    }
}

/// A history row as shown: the code masked, never the full code.
#[derive(Debug, Clone, Serialize)]
pub struct TransactionView {
    pub id: String,
    pub created_at: String,
    pub till_id: String,
    pub cashier: String,
    pub provider: String,
    /// redeem, create_voucher, checkout or payout.
    pub operation: String,
    pub code_masked: String,
    pub amount: Option<MoneyView>,
    pub state: String,
    pub provider_reference: Option<String>,
    pub message: Option<String>,
    pub training: bool,
}

impl From<TransactionRow> for TransactionView {
    fn from(r: TransactionRow) -> Self {
        TransactionView {
            amount: MoneyView::from_parts(r.amount_minor, r.currency.as_deref()),
            id: r.id,
            created_at: r.created_at,
            till_id: r.till_id,
            cashier: r.cashier,
            provider: r.provider,
            operation: r.operation,
            code_masked: r.code_masked.unwrap_or_default(),
            state: r.state.as_str().into(),
            provider_reference: r.provider_reference,
            message: r.outcome_message,
            training: r.training,
        }
    }
}

/// What the back office shows for a filter: a page of rows and, with the
/// first page, the totals of the whole filter and its daily chart.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryView {
    #[serde(flatten)]
    pub page: HistoryPage<TransactionView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daily: Option<DailyTotals>,
}

/// One transaction with everything the ledger knows of it: the row and
/// every audit event that names it, oldest first.
#[derive(Debug, Clone, Serialize)]
pub struct TransactionDetail {
    #[serde(flatten)]
    pub transaction: TransactionView,
    pub updated_at: String,
    pub customer_name: Option<String>,
    pub events: Vec<AuditRow>,
}

/// A history export written to a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportedFile {
    pub path: String,
    pub rows: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CredentialStatus {
    pub provider: String,
    pub environment: String,
    pub configured: bool,
    pub message: String,
}

impl Till {
    pub async fn open(data_dir: &Path, options: TillOptions) -> Result<Till, FlowError> {
        let config = Config::load(data_dir)?;
        let ledger = {
            let dir = data_dir.to_path_buf();
            let till_id = config.till_id.clone();
            tokio::task::spawn_blocking(move || Ledger::in_data_dir(&dir, &till_id))
                .await
                .expect("ledger open does not panic")?
        };
        let lease = Lease::acquire(data_dir)
            .map_err(|e| LedgerError::Open { path: data_dir.join("run"), message: e.to_string() })?;
        let needs_sim = ProviderId::ALL.iter().any(|p| matches!(config.endpoint(*p), Ok(Endpoint::BuiltInSimulator)));
        let simulators = if needs_sim {
            Some(Simulators::start(0).await.map_err(|e| FlowError::Simulator(e.to_string()))?)
        } else {
            None
        };
        Ok(Till {
            data_dir: data_dir.to_path_buf(),
            config,
            ledger: Arc::new(ledger),
            lease,
            secrets: SecretStore::new(options.keyring_service),
            simulators,
            clients: Mutex::new(Clients::default()),
            request_timeout: Mutex::new(None),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn is_training(&self) -> bool {
        self.config.is_training()
    }

    pub fn lease_id(&self) -> &str {
        self.lease.id()
    }

    /// This process's lease: which rows are its own and which it is working on.
    pub(crate) fn lease(&self) -> &Lease {
        &self.lease
    }

    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    /// The keyring store (credentials, and the audit anchor kept at shift close).
    pub(crate) fn secrets(&self) -> &SecretStore {
        &self.secrets
    }

    pub fn simulators(&self) -> Option<&Simulators> {
        self.simulators.as_ref()
    }

    /// Shortens (or lengthens) how long every provider's requests may take
    /// (BitPesa's too); clients are rebuilt on next use. Fault
    /// tests use it so a provider that never answers costs seconds, not the
    /// production timeout.
    pub fn set_request_timeout(&self, timeout: Duration) {
        *self.request_timeout.lock().unwrap() = Some(timeout);
        let mut clients = self.clients.lock().unwrap();
        clients.bitpesa = None;
        clients.pesavoucher = None;
        clients.telesend = None;
        clients.giftpesa = None;
        clients.pesapal = None;
    }

    fn request_timeout(&self) -> Duration {
        self.request_timeout.lock().unwrap().unwrap_or(crate::providers::http::REQUEST_TIMEOUT)
    }

    /// Runs blocking work (SQLite, argon2, PDF layout) off the async workers.
    pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        tokio::task::spawn_blocking(f).await.expect("blocking till work does not panic")
    }

    /// Runs blocking ledger work off the async executor.
    pub async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Ledger) -> Result<T, LedgerError> + Send + 'static,
    ) -> Result<T, FlowError> {
        let ledger = self.ledger.clone();
        Ok(tokio::task::spawn_blocking(move || f(&ledger)).await.expect("ledger work does not panic")?)
    }

    pub async fn audit(&self, entry: AuditEntry) -> Result<(), FlowError> {
        self.db(move |l| l.record(&entry).map(|_| ())).await
    }

    /// Where a provider's requests go: its configured or documented address,
    /// or the built-in simulator.
    pub fn provider_base_url(&self, provider: ProviderId) -> Result<url::Url, FlowError> {
        self.base_url(provider)
    }

    fn base_url(&self, provider: ProviderId) -> Result<url::Url, FlowError> {
        match self.config.endpoint(provider)? {
            Endpoint::Remote(url) => Ok(url),
            Endpoint::BuiltInSimulator => Ok(self
                .simulators
                .as_ref()
                .ok_or_else(|| FlowError::Simulator("not started".into()))?
                .base_url(provider)),
        }
    }

    /// Stored credentials for the current environment, or the simulator's in training.
    /// The keyring read is a blocking D-Bus call: it runs off the async workers.
    async fn credentials<C: ProviderCredentials + Send + 'static>(
        &self,
        provider: ProviderId,
        training: impl FnOnce() -> C,
    ) -> Result<C, FlowError> {
        let env = self.config.environment;
        if env == Environment::Training {
            return Ok(training());
        }
        let secrets = self.secrets.clone();
        Till::blocking(move || secrets.get::<C>(provider, env))
            .await?
            .ok_or(FlowError::MissingCredentials { provider, environment: env })
    }

    /// A provider's client from `slot`, built on first use and after
    /// credentials change. The credentials (a keyring read off the async
    /// workers) are fetched without the lock held; a client another first
    /// use built meanwhile is the one kept.
    async fn client<T, C: ProviderCredentials + Send + 'static>(
        &self,
        provider: ProviderId,
        slot: fn(&mut Clients) -> &mut Option<Arc<T>>,
        training: impl FnOnce() -> C,
        build: impl FnOnce(&Self, C) -> Result<T, FlowError>,
    ) -> Result<Arc<T>, FlowError> {
        let cached = slot(&mut self.clients.lock().unwrap()).clone();
        if let Some(client) = cached {
            return Ok(client);
        }
        let credentials = self.credentials(provider, training).await?;
        let mut clients = self.clients.lock().unwrap();
        if let Some(client) = slot(&mut clients) {
            return Ok(client.clone());
        }
        let client = Arc::new(build(self, credentials)?);
        *slot(&mut clients) = Some(client.clone());
        Ok(client)
    }

    /// The PesaVoucher client: key and secret from the keyring (the simulator's in training).
    pub async fn pesavoucher(&self) -> Result<Arc<pesavoucher::Client>, FlowError> {
        let provider = ProviderId::PesaVoucher;
        self.client(
            provider,
            |c| &mut c.pesavoucher,
            || pesavoucher::Credentials {
                api_key: training::TRAINING_API_KEY.into(),
                api_secret: training::TRAINING_API_SECRET.into(),
            },
            |till, credentials| {
                Ok(pesavoucher::Client::with_timeout(till.base_url(provider)?, credentials, till.request_timeout()))
            },
        )
        .await
    }

    /// The Telesend client: its API token from the keyring (the simulator's in training).
    pub async fn telesend(&self) -> Result<Arc<telesend::Client>, FlowError> {
        let provider = ProviderId::Telesend;
        self.client(
            provider,
            |c| &mut c.telesend,
            || telesend::Credentials { api_token: training::TRAINING_API_TOKEN.into() },
            |till, credentials| {
                Ok(telesend::Client::with_timeout(till.base_url(provider)?, credentials, till.request_timeout()))
            },
        )
        .await
    }

    /// The Pesapal client; it keeps its own token until shortly before expiry.
    pub async fn pesapal(&self) -> Result<Arc<pesapal::Client>, FlowError> {
        let provider = ProviderId::Pesapal;
        self.client(
            provider,
            |c| &mut c.pesapal,
            || pesapal::Credentials {
                consumer_key: training::TRAINING_PESAPAL_CONSUMER_KEY.into(),
                consumer_secret: training::TRAINING_PESAPAL_CONSUMER_SECRET.into(),
            },
            |till, credentials| {
                Ok(pesapal::Client::with_timeout(till.base_url(provider)?, credentials, till.request_timeout()))
            },
        )
        .await
    }

    /// The BitPesa client: signed requests with the key and secret from the
    /// keyring (the simulator's in training).
    pub async fn bitpesa(&self) -> Result<Arc<bitpesa::Client>, FlowError> {
        let provider = ProviderId::BitPesa;
        self.client(
            provider,
            |c| &mut c.bitpesa,
            || bitpesa::Credentials {
                api_key: training::TRAINING_BITPESA_API_KEY.into(),
                api_secret: training::TRAINING_BITPESA_API_SECRET.into(),
            },
            |till, credentials| {
                let timeout = till.request_timeout.lock().unwrap().unwrap_or(bitpesa::REQUEST_TIMEOUT);
                Ok(bitpesa::Client::with_timeout(till.base_url(provider)?, credentials, timeout))
            },
        )
        .await
    }

    /// The GiftPesa client: credentials from the keyring, the public key from
    /// the imported `key.crt` (the simulator's own in training).
    pub async fn giftpesa(&self) -> Result<Arc<giftpesa::Client>, FlowError> {
        let provider = ProviderId::GiftPesa;
        self.client(
            provider,
            |c| &mut c.giftpesa,
            || giftpesa::Credentials {
                username: training::TRAINING_GIFTPESA_USERNAME.into(),
                api_key: training::TRAINING_GIFTPESA_API_KEY.into(),
            },
            |till, credentials| {
                let key = giftpesa::EncryptionKey::from_certificate(&till.giftpesa_certificate()?)?;
                Ok(giftpesa::Client::with_timeout(till.base_url(provider)?, credentials, key, till.request_timeout()))
            },
        )
        .await
    }

    /// The `key.crt` GiftPesa's sign-in encrypts with: the imported one, or
    /// the simulator's own in training.
    fn giftpesa_certificate(&self) -> Result<Vec<u8>, FlowError> {
        if self.is_training() && self.giftpesa_certificate_path().is_none() {
            return Ok(training::giftpesa::TRAINING_CERTIFICATE.as_bytes().to_vec());
        }
        let path = self.giftpesa_certificate_path().ok_or(FlowError::Declined {
            code: "certificate_missing",
            message: "GiftPesa's key.crt has not been imported: a manager must import it in Settings".into(),
        })?;
        std::fs::read(&path).map_err(|e| FlowError::Declined {
            code: "certificate_missing",
            message: format!("GiftPesa's key.crt cannot be read at {}: {e}", path.display()),
        })
    }

    /// Where GiftPesa's certificate is: configured, or imported into the data directory.
    pub fn giftpesa_certificate_path(&self) -> Option<PathBuf> {
        let configured = self.config.providers.get(&ProviderId::GiftPesa).and_then(|p| p.certificate.clone());
        let path =
            configured.map(|p| self.data_dir.join(p)).unwrap_or_else(|| self.data_dir.join(GIFTPESA_CERTIFICATE));
        path.exists().then_some(path)
    }

    /// Checks a `key.crt` and keeps a copy in the data directory (it is
    /// public; GiftPesa's dashboard hands it out with the API key).
    pub async fn import_giftpesa_certificate(&self, bytes: &[u8], actor: &str) -> Result<PathBuf, FlowError> {
        if bytes.len() > 64 * 1024 {
            return Err(FlowError::Declined {
                code: "certificate",
                message: "That file is too large to be a key.crt".into(),
            });
        }
        giftpesa::EncryptionKey::from_certificate(bytes)?;
        let path = self.data_dir.join(GIFTPESA_CERTIFICATE);
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(path.parent().expect("a file in a folder"))?;
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, bytes)?;
            std::fs::rename(&tmp, &path)
        };
        write()
            .map_err(|e| FlowError::Declined { code: "certificate", message: format!("Cannot save key.crt: {e}") })?;
        *self.clients.lock().unwrap() = Clients::default();
        let entry = AuditEntry {
            provider: Some(ProviderId::GiftPesa.as_str().into()),
            ..AuditEntry::new(actor, "settings_changed", Outcome::Success, "GiftPesa key.crt imported")
        };
        self.audit(entry).await?;
        Ok(path)
    }

    /// The M-Pesa till GiftPesa redemptions go to: configured, or the
    /// simulator's sample till in training.
    pub fn giftpesa_till(&self) -> Option<String> {
        let configured = self.config.providers.get(&ProviderId::GiftPesa).and_then(|p| p.till_number.clone());
        configured.or(self.is_training().then(|| training::giftpesa::TRAINING_TILL.to_string()))
    }

    /// The merchant this till redeems Telesend vouchers for: configured, or
    /// the training store's in training mode.
    pub fn telesend_merchant_id(&self) -> Option<u64> {
        let configured = self.config.providers.get(&ProviderId::Telesend).and_then(|p| p.merchant_id);
        configured.or(self.is_training().then_some(training::telesend::TRAINING_MERCHANT_ID))
    }

    /// Training mode keeps the credentials for sandbox, the mode a till moves to next.
    fn credentials_environment(&self) -> Environment {
        match self.config.environment {
            Environment::Training => Environment::Sandbox,
            other => other,
        }
    }

    pub fn credential_status(&self) -> Vec<CredentialStatus> {
        let env = self.credentials_environment();
        let training = self.is_training();
        ProviderId::ALL
            .iter()
            .map(|p| {
                let (configured, message) = match self.secrets.get::<serde_json::Value>(*p, env) {
                    Ok(Some(_)) if training => {
                        (true, "Saved in the system keyring for sandbox mode; training uses the simulator".into())
                    }
                    Ok(Some(_)) => (true, "Saved in the system keyring".to_string()),
                    Ok(None) if training => {
                        (false, "Not needed in training mode (the built-in simulator is used)".into())
                    }
                    Ok(None) => (false, "Not set".into()),
                    Err(e) => (false, e.to_string()),
                };
                CredentialStatus { provider: p.as_str().into(), environment: env.as_str().into(), configured, message }
            })
            .collect()
    }

    /// Stores credentials for the current environment (training stores them
    /// for sandbox, the mode a till moves to next). Values are checked, saved,
    /// audited without their content, and never returned.
    pub async fn set_credentials(
        &self,
        provider: ProviderId,
        json: serde_json::Value,
        actor: &str,
    ) -> Result<Environment, FlowError> {
        let env = self.credentials_environment();
        let outcome = match provider {
            ProviderId::PesaVoucher => self.store::<pesavoucher::Credentials>(provider, env, json).await,
            ProviderId::Telesend => self.store::<telesend::Credentials>(provider, env, json).await,
            ProviderId::GiftPesa => self.store::<crate::providers::giftpesa::Credentials>(provider, env, json).await,
            ProviderId::Pesapal => self.store::<crate::providers::pesapal::Credentials>(provider, env, json).await,
            ProviderId::BitPesa => self.store::<bitpesa::Credentials>(provider, env, json).await,
        };
        let entry = AuditEntry {
            provider: Some(provider.as_str().into()),
            ..AuditEntry::new(
                actor,
                "credentials_changed",
                if outcome.is_ok() { Outcome::Success } else { Outcome::Failure },
                match &outcome {
                    Ok(()) => format!("{provider} credentials for {env} saved in the keyring"),
                    Err(e) => format!("{provider} credentials for {env} not saved: {e}"),
                },
            )
        };
        self.audit(entry).await?;
        outcome?;
        *self.clients.lock().unwrap() = Clients::default();
        Ok(env)
    }

    /// The keyring write is a blocking D-Bus call: it runs off the async workers.
    async fn store<C: ProviderCredentials + Send + 'static>(
        &self,
        provider: ProviderId,
        env: Environment,
        json: serde_json::Value,
    ) -> Result<(), SecretError> {
        let credentials: C = serde_json::from_value(json)
            .map_err(|_| SecretError::Invalid(format!("{} needs {}", provider.display_name(), C::SHAPE)))?;
        credentials.check()?;
        let secrets = self.secrets.clone();
        Till::blocking(move || secrets.set(provider, env, &credentials)).await
    }

    pub async fn recent(&self, limit: u32) -> Result<Vec<TransactionView>, FlowError> {
        let rows = self.db(move |l| l.recent(limit)).await?;
        Ok(rows.into_iter().map(TransactionView::from).collect())
    }

    /// The filter as this till applies it: checked, and in training mode
    /// with the training transactions (a training till has no other
    /// business; its totals still keep them apart).
    pub(crate) fn history_scope(&self, mut filter: HistoryFilter) -> Result<HistoryFilter, FlowError> {
        filter.validate().map_err(|e| FlowError::Declined { code: "invalid_filter", message: e.to_string() })?;
        filter.include_training |= self.is_training();
        Ok(filter)
    }

    /// A page of the manager's history, newest first. The first page (no
    /// cursor) brings the totals of the whole filter and records in the
    /// audit log who viewed what; the pages after it continue that view.
    pub async fn history(
        &self,
        actor: &str,
        filter: HistoryFilter,
        after: Option<HistoryCursor>,
        limit: u32,
    ) -> Result<HistoryPage<TransactionView>, FlowError> {
        let actor = crate::redeem::require_cashier(actor)?.to_string();
        let filter = self.history_scope(filter)?;
        let page = self
            .db(move |l| {
                let mut page = l.history_page(&filter, after.as_ref(), limit)?;
                if after.is_none() {
                    page.totals = Some(l.history_totals(&filter)?);
                    l.record(&AuditEntry {
                        provider: filter.provider.map(|p| p.as_str().into()),
                        ..AuditEntry::new(&actor, "history_viewed", Outcome::Success, filter.summary())
                    })?;
                }
                Ok(page)
            })
            .await?;
        Ok(page.map(TransactionView::from))
    }

    /// Writes the filter's transactions as CSV (see `export`), off the async
    /// executor, and records the export, or its failure, in the audit log.
    pub async fn export_history_csv<W: std::io::Write + Send + 'static>(
        &self,
        actor: &str,
        filter: HistoryFilter,
        out: W,
        progress_every: u64,
        progress: impl FnMut(u64) + Send + 'static,
    ) -> Result<ExportSummary, FlowError> {
        let actor = crate::redeem::require_cashier(actor)?.to_string();
        let filter = self.history_scope(filter)?;
        let written = self
            .db(move |l| {
                let written = export::history_csv(l, &filter, out, progress_every, progress);
                let (outcome, details) = match &written {
                    Ok(s) => (Outcome::Success, format!("{} rows as CSV; {}", s.rows, filter.summary())),
                    Err(e) => (Outcome::Failure, format!("CSV export stopped: {e}; {}", filter.summary())),
                };
                l.record(&AuditEntry {
                    provider: filter.provider.map(|p| p.as_str().into()),
                    ..AuditEntry::new(&actor, "history_exported", outcome, details)
                })?;
                Ok(written)
            })
            .await?;
        written.map_err(|e| match e {
            ExportError::Ledger(e) => FlowError::Ledger(e),
            ExportError::Write(message) => FlowError::Declined { code: "export_failed", message },
        })
    }

    /// A page of the back office's history. The first page (no cursor)
    /// also brings the daily chart of the filter; like its totals, that is
    /// part of the one view [`Till::history`] records.
    pub async fn history_view(
        &self,
        actor: &str,
        filter: HistoryFilter,
        after: Option<HistoryCursor>,
        limit: u32,
    ) -> Result<HistoryView, FlowError> {
        let first = after.is_none();
        let chart = self.history_scope(filter.clone())?;
        let page = self.history(actor, filter, after, limit).await?;
        let daily = if first { Some(self.db(move |l| l.history_daily(&chart)).await?) } else { None };
        Ok(HistoryView { page, daily })
    }

    /// The totals of a filter alone, recorded as a view of the history.
    pub async fn history_totals(&self, actor: &str, filter: HistoryFilter) -> Result<HistoryTotals, FlowError> {
        let filter = self.history_scope(filter)?;
        let entry = history_viewed(actor, &filter, "totals")?;
        self.db(move |l| {
            let totals = l.history_totals(&filter)?;
            l.record(&entry)?;
            Ok(totals)
        })
        .await
    }

    /// The daily chart of a filter alone, recorded as a view of the history.
    pub async fn history_daily(&self, actor: &str, filter: HistoryFilter) -> Result<DailyTotals, FlowError> {
        let filter = self.history_scope(filter)?;
        let entry = history_viewed(actor, &filter, "daily totals")?;
        self.db(move |l| {
            let daily = l.history_daily(&filter)?;
            l.record(&entry)?;
            Ok(daily)
        })
        .await
    }

    /// One transaction and its event trail; the look is recorded too (and
    /// so joins the trail the next look shows).
    pub async fn transaction_detail(&self, actor: &str, id: &str) -> Result<TransactionDetail, FlowError> {
        let actor = crate::redeem::require_cashier(actor)?.to_string();
        let id = id.trim().to_string();
        let trail = self
            .db(move |l| {
                let trail = l.transaction_detail(&id)?;
                if let Some(t) = &trail {
                    l.record(&AuditEntry {
                        provider: Some(t.transaction.provider.clone()),
                        subject: t.transaction.code_masked.clone(),
                        transaction_id: Some(t.transaction.id.clone()),
                        ..AuditEntry::new(&actor, "transaction_viewed", Outcome::Success, "detail and event trail")
                    })?;
                }
                Ok(trail)
            })
            .await?
            .ok_or_else(|| FlowError::Declined { code: "not_found", message: "No such transaction".into() })?;
        Ok(TransactionDetail {
            updated_at: trail.transaction.updated_at.clone(),
            customer_name: trail.transaction.customer_name.clone(),
            transaction: trail.transaction.into(),
            events: trail.events,
        })
    }

    /// Exports the filter's transactions as CSV into the user's Downloads
    /// folder (else `<data dir>/exports`), named after the till and the
    /// time. Written under a temporary name and renamed when complete, so a
    /// half-written file never carries the final name. `progress` hears
    /// (rows written, rows expected) every 1,000 rows and at the end.
    pub async fn export_history_csv_file(
        &self,
        actor: &str,
        filter: HistoryFilter,
        mut progress: impl FnMut(u64, u64) + Send + 'static,
    ) -> Result<ExportedFile, FlowError> {
        let scoped = self.history_scope(filter.clone())?;
        let expected = self.db(move |l| l.history_totals(&scoped)).await?.count.max(0) as u64;
        progress(0, expected);
        let failed = |e: std::io::Error| FlowError::Declined {
            code: "export_failed",
            message: format!("The export could not be written: {e}"),
        };
        let path =
            export::new_history_path(&export::export_dir(&self.data_dir), &self.config.till_id, chrono::Local::now())
                .map_err(failed)?;
        let part = path.with_extension("csv.part");
        let file = std::fs::File::create(&part).map_err(failed)?;
        let out = std::io::BufWriter::new(file);
        let written = self.export_history_csv(actor, filter, out, 1_000, move |rows| progress(rows, expected)).await;
        let summary = match written {
            Ok(s) => s,
            Err(e) => {
                let _ = std::fs::remove_file(&part);
                return Err(e);
            }
        };
        std::fs::rename(&part, &path).map_err(|e| {
            let _ = std::fs::remove_file(&part);
            failed(e)
        })?;
        Ok(ExportedFile { path: path.display().to_string(), rows: summary.rows })
    }

    /// Walks the whole audit chain, checks it against the head kept in the
    /// keyring at the last shift close, and records that it did and what it
    /// found. `progress` hears (rows checked, rows in the log).
    pub async fn verify_audit_with_progress(
        &self,
        actor: &str,
        mut progress: impl FnMut(u64, u64) + Send + 'static,
    ) -> Result<AnchoredVerification, FlowError> {
        let actor = crate::redeem::require_cashier(actor)?.to_string();
        let (secrets, till_id, database) =
            (self.secrets.clone(), self.config.till_id.clone(), self.ledger.anchor_name());
        let anchor = tokio::task::spawn_blocking(move || secrets.audit_anchor(&till_id, &database))
            .await
            .expect("keyring reads do not panic")
            .map_err(|e| e.to_string());
        self.db(move |l| {
            let total = l.audit_len()?;
            progress(0, total);
            let v = l.verify_audit_anchored(anchor, |rows| progress(rows, total))?;
            let (outcome, details) = match &v.chain.first_bad {
                None => (Outcome::Success, format!("chain intact: {} rows, head {}", v.chain.rows, v.chain.head)),
                Some(bad) => (Outcome::Failure, format!("chain broken at row {}: {}", bad.seq, bad.reason)),
            };
            l.record(&AuditEntry::new(&actor, "audit_verified", outcome, details))?;
            Ok(v)
        })
        .await
    }
}

/// The audit row of a look at the history's figures.
fn history_viewed(actor: &str, filter: &HistoryFilter, what: &str) -> Result<AuditEntry, FlowError> {
    let actor = crate::redeem::require_cashier(actor)?;
    Ok(AuditEntry {
        provider: filter.provider.map(|p| p.as_str().into()),
        ..AuditEntry::new(actor, "history_viewed", Outcome::Success, format!("{what}; {}", filter.summary()))
    })
}

/// A till for unit tests: a fresh data directory, training mode, printing
/// off, and a keyring service of its own.
#[cfg(test)]
pub(crate) async fn test_till() -> (tempfile::TempDir, Till) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = crate::config::Config::default();
    config.receipt.print = false;
    config.save(dir.path()).unwrap();
    let options = TillOptions { keyring_service: format!("kaunta-test-{}", uuid::Uuid::now_v7()) };
    let till = Till::open(dir.path(), options).await.unwrap();
    (dir, till)
}
