//! Headless mode: the same till and flows as the window, for scripts and
//! integrations. `kaunta` with no subcommand opens the window.
//!
//! Exit codes: 0 done, 1 declined or invalid, 2 usage or configuration
//! error, 3 outcome unknown.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use kaunta_core::config::resolve_data_dir;
use kaunta_core::providers::ProviderId;
use kaunta_core::training::Simulators;
use kaunta_core::{FlowError, PublicError, Till, TillOptions};
use serde::Serialize;

pub const EXIT_OK: u8 = 0;
pub const EXIT_DECLINED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_UNKNOWN: u8 = 3;

#[derive(Debug, Parser)]
#[command(name = "kaunta", version, about = "Kaunta cashier till. With no command, opens the window.")]
pub struct Cli {
    /// The till's data directory (database, config.toml, receipts).
    /// Default: the OS application-data folder.
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Provider {
    Pesavoucher,
    Telesend,
    Giftpesa,
}

impl From<Provider> for ProviderId {
    fn from(p: Provider) -> Self {
        match p {
            Provider::Pesavoucher => ProviderId::PesaVoucher,
            Provider::Telesend => ProviderId::Telesend,
            Provider::Giftpesa => ProviderId::GiftPesa,
        }
    }
}

/// Providers whose vouchers are claimed with an SMS code first.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ClaimProvider {
    Telesend,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Resolution {
    Completed,
    Failed,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a voucher without redeeming it.
    Validate {
        provider: Provider,
        code: String,
        /// Recorded in the audit log as the one who asked.
        #[arg(long, default_value = "headless")]
        cashier: String,
        #[arg(long)]
        json: bool,
    },
    /// Redeem a voucher (records the intent first, prints the receipt).
    /// PesaVoucher validates first; Telesend takes the customer's SMS code;
    /// GiftPesa takes the customer's name, phone and amount instead of a code.
    Redeem {
        provider: Provider,
        /// The voucher code (PesaVoucher, Telesend).
        code: Option<String>,
        #[arg(long)]
        cashier: String,
        /// GiftPesa: the customer's name.
        #[arg(long)]
        name: Option<String>,
        /// GiftPesa: the customer's phone (07…, +2547…, 2547…).
        #[arg(long)]
        phone: Option<String>,
        /// GiftPesa: the amount in whole shillings.
        #[arg(long)]
        amount: Option<String>,
        /// GiftPesa: another M-Pesa till than the configured one.
        #[arg(long)]
        till: Option<String>,
        /// GiftPesa: remarks for the transaction.
        #[arg(long)]
        remarks: Option<String>,
        /// GiftPesa: this customer was just given the same amount, and this
        /// is a second purchase (without it such a repeat is refused).
        #[arg(long)]
        confirm_repeat: bool,
        /// Telesend: the SMS code the customer received (none for anonymous vouchers).
        #[arg(long)]
        verification_code: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Telesend: send the customer an SMS code, reserving an amount (default: all that remains).
    Claim {
        provider: ClaimProvider,
        code: String,
        /// A partial amount, e.g. 500 or 250.50.
        #[arg(long)]
        amount: Option<String>,
        #[arg(long, default_value = "headless")]
        cashier: String,
        #[arg(long)]
        json: bool,
    },
    /// Pesapal: take a card or mobile-money payment. Prints the payment page
    /// and a QR code for the customer's phone, then waits for the outcome.
    Checkout {
        #[arg(value_parser = ["pesapal"])]
        provider: String,
        #[arg(long)]
        amount: String,
        #[arg(long)]
        description: String,
        #[arg(long)]
        phone: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long, default_value = "headless")]
        cashier: String,
        /// Give up waiting after this many seconds (the order stays open).
        #[arg(long, default_value_t = 600)]
        wait: u64,
        #[arg(long)]
        json: bool,
    },
    /// Pesapal: ask for a payment's status (our transaction id or Pesapal's
    /// order tracking id) and record it if final.
    Status {
        #[arg(value_parser = ["pesapal"])]
        provider: String,
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Pesapal: the IPN every order names.
    Ipn {
        #[command(subcommand)]
        action: IpnAction,
    },
    /// GiftPesa: the merchants list (also a connection check).
    Merchants {
        #[arg(value_parser = ["giftpesa"])]
        provider: String,
        #[arg(long)]
        json: bool,
    },
    /// GiftPesa: import the key.crt from the GiftPesa dashboard.
    Certificate {
        #[command(subcommand)]
        action: CertificateAction,
    },
    /// Telesend: the gift denominations (ETB).
    Denominations {
        provider: ClaimProvider,
        #[arg(long)]
        json: bool,
    },
    /// A manager settles a transaction whose outcome is unknown. The
    /// manager's PIN comes from the KAUNTA_MANAGER_PIN environment variable.
    Resolve {
        transaction_id: String,
        #[arg(long = "as", value_enum)]
        outcome: Resolution,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        manager: String,
        #[arg(long)]
        json: bool,
    },
    /// Transactions, newest first. With no filter, the most recent ones (as
    /// the cashier screen lists them). With a filter, --totals, --csv or --pdf, the
    /// manager's history: real business only unless --include-training (a
    /// training till shows its training), recorded in the audit log.
    History {
        /// Rows to list; --csv, --pdf and --totals cover the whole filter.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// From this day (YYYY-MM-DD, the till's local day) or instant (RFC 3339), inclusive.
        #[arg(long, value_name = "DATE")]
        since: Option<kaunta_core::ledger::history::TimeBound>,
        /// To this day, inclusive, or up to this instant (RFC 3339), exclusive.
        #[arg(long, value_name = "DATE")]
        until: Option<kaunta_core::ledger::history::TimeBound>,
        /// pesavoucher, telesend, giftpesa or pesapal.
        #[arg(long)]
        provider: Option<ProviderId>,
        /// pending, completed, failed or unknown.
        #[arg(long, value_parser = kaunta_core::ledger::history::parse_state)]
        status: Option<kaunta_core::ledger::State>,
        /// The cashier's name (any case).
        #[arg(long)]
        cashier: Option<String>,
        /// The till id.
        #[arg(long, value_name = "TILL_ID")]
        till: Option<String>,
        /// redeem, create_voucher, checkout or payout.
        #[arg(long)]
        operation: Option<kaunta_core::ledger::history::Operation>,
        /// A fragment of a voucher code, phone, provider reference or transaction id.
        #[arg(long, value_name = "TEXT")]
        search: Option<String>,
        /// Training transactions too (totalled apart from real business).
        #[arg(long)]
        include_training: bool,
        /// The totals of the filter per currency, instead of the rows.
        #[arg(long, conflicts_with = "csv")]
        totals: bool,
        /// Who is looking, for the audit log.
        #[arg(long, default_value = "headless")]
        manager: String,
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Every row of the filter as CSV (RFC 4180) on standard output.
        #[arg(long)]
        csv: bool,
        /// The filter's totals as a PDF report where exports go (Downloads,
        /// else the data directory's `exports`); prints its path.
        #[arg(long, conflicts_with_all = ["csv", "json"])]
        pdf: bool,
    },
    /// Can each provider be reached from this till? Exits 1 if one cannot.
    Providers {
        #[arg(long)]
        json: bool,
    },
    /// Ask providers about transactions whose outcome is unknown.
    Reconcile {
        #[arg(long)]
        json: bool,
    },
    /// Shifts at this till.
    Shift {
        #[command(subcommand)]
        action: ShiftAction,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Backups of the till's database. With no action: make one (a
    /// manager's approval: --manager NAME and KAUNTA_MANAGER_PIN), checked
    /// before it takes its name; exit 1 if none could be made.
    #[command(args_conflicts_with_subcommands = true)]
    Backup {
        #[command(subcommand)]
        action: Option<BackupAction>,
        /// Another folder than `[backup] dir` (a USB stick, a network share).
        #[arg(long, value_name = "DIR")]
        to: Option<PathBuf>,
        #[arg(long)]
        manager: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Provider credentials in the OS keyring.
    Credentials {
        #[command(subcommand)]
        action: CredentialsAction,
    },
    /// Staff who may sign in, and their PINs.
    Staff {
        #[command(subcommand)]
        action: StaffAction,
    },
    /// BitPesa: the store's balance per currency. A manager's approval:
    /// --manager NAME and KAUNTA_MANAGER_PIN.
    Balances {
        #[arg(value_parser = ["bitpesa"])]
        provider: String,
        #[arg(long)]
        manager: String,
        #[arg(long)]
        json: bool,
    },
    /// BitPesa payouts from the store's balance: send one, follow it, cancel it.
    Payout {
        #[command(subcommand)]
        action: PayoutAction,
    },
    /// A webhook relayed from BitPesa: verify its signature and import it.
    Webhook {
        #[command(subcommand)]
        action: WebhookAction,
    },
    /// Run the training simulators in the foreground, for development and tests.
    Simulate {
        #[arg(long, default_value_t = 0)]
        port: u16,
    },
}

// Parsed once per run: the size of a variant costs nothing worth boxing for.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum PayoutAction {
    /// Send a payout (a manager's approval: --manager NAME and KAUNTA_MANAGER_PIN),
    /// then follow it. Exit 0 paid out, 1 failed or refused, 3 still pending or unknown.
    /// KES::Mobile: --first-name --last-name --phone; KES::Bank: --name --bank-code
    /// --account --street [--city]; UGX::Mobile: --first-name --last-name --phone --network.
    Bitpesa {
        /// KES::Mobile, KES::Bank or UGX::Mobile.
        #[arg(long)]
        corridor: String,
        /// In the corridor's currency, whole units: 1500 or 1,500.
        #[arg(long)]
        amount: String,
        #[arg(long)]
        first_name: Option<String>,
        #[arg(long)]
        last_name: Option<String>,
        /// The recipient's mobile number (07…, +2547…; +2567… for Uganda).
        #[arg(long)]
        phone: Option<String>,
        /// A business recipient's name (KES::Bank).
        #[arg(long)]
        name: Option<String>,
        /// KES::Bank: the bank code (68 Equity, 01 KCB, 11 Co-operative …).
        #[arg(long)]
        bank_code: Option<String>,
        /// KES::Bank: the account number.
        #[arg(long)]
        account: Option<String>,
        #[arg(long)]
        street: Option<String>,
        #[arg(long)]
        city: Option<String>,
        /// UGX::Mobile: airtel or mtn.
        #[arg(long)]
        network: Option<String>,
        /// BitPesa's transfer_reason key (default: per corridor).
        #[arg(long)]
        transfer_reason: Option<String>,
        /// Why the money goes out (for the audit log and the slip).
        #[arg(long)]
        reason: String,
        #[arg(long)]
        manager: String,
        /// Stop following after this many seconds (the payout continues).
        #[arg(long, default_value_t = 120)]
        wait: u64,
        #[arg(long)]
        json: bool,
    },
    /// Ask BitPesa once about a payout (our id or BitPesa's) and record a final state.
    Status {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Ask BitPesa to cancel a payout (a manager's approval). Cancelling is
    /// asynchronous: the payout ends `failed` once BitPesa has refunded it.
    Cancel {
        id: String,
        #[arg(long)]
        manager: String,
        /// Follow the cancellation this many seconds.
        #[arg(long, default_value_t = 30)]
        wait: u64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum WebhookAction {
    /// Verify a relayed BitPesa webhook (its body in --file, its URL and
    /// authentication headers as options) and import it.
    Verify {
        #[arg(value_parser = ["bitpesa"])]
        provider: String,
        /// The exact body BitPesa sent.
        #[arg(long)]
        file: PathBuf,
        /// The full URL BitPesa posted to.
        #[arg(long)]
        url: String,
        /// Authorization-Key.
        #[arg(long)]
        key: String,
        /// Authorization-Nonce.
        #[arg(long)]
        nonce: String,
        /// Authorization-Signature.
        #[arg(long)]
        signature: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditAction {
    /// Check the hash chain; names the first broken row.
    Verify {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BackupAction {
    /// Check a backup before restoring from it: SQLite's integrity check and
    /// the whole audit chain. Reads the file and writes nothing; needs no
    /// manager. Exit 1 if it is damaged, broken or not a Kaunta backup.
    Verify {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ShiftAction {
    /// The X report of the open shift: its figures so far (the shift stays
    /// open; the viewing is recorded in the audit log).
    Report {
        /// Who is looking, for the audit log.
        #[arg(long, default_value = "headless")]
        cashier: String,
        #[arg(long)]
        json: bool,
    },
    /// A closed shift's Z report again, from the figures its close kept,
    /// marked REPRINT: saved as reports/<SHIFT_ID>-z-reprint-N.pdf and
    /// printed when printing is on. A manager's approval: --manager NAME
    /// and KAUNTA_MANAGER_PIN. Exit 1 if the copy was not saved or printed.
    Reprint {
        shift_id: String,
        #[arg(long)]
        manager: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum IpnAction {
    /// Register an IPN URL with Pesapal and use it for every order.
    Register {
        url: String,
        #[arg(long, value_parser = ["GET", "POST"], default_value = "GET")]
        method: String,
        /// A manager's approval: --manager NAME and KAUNTA_MANAGER_PIN.
        #[arg(long)]
        manager: String,
        #[arg(long)]
        json: bool,
    },
    /// The IPNs registered with Pesapal, and which one this till uses.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Use an IPN already registered (a manager's approval, as for register).
    Choose {
        ipn_id: String,
        #[arg(long)]
        manager: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum CertificateAction {
    /// A manager's approval: --manager NAME and KAUNTA_MANAGER_PIN.
    Import {
        #[arg(value_parser = ["giftpesa"])]
        provider: String,
        file: PathBuf,
        #[arg(long)]
        manager: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum CredentialsAction {
    /// Read the provider's credentials as JSON from standard input,
    /// e.g. {"api_key": "...", "api_secret": "..."} for pesavoucher or bitpesa.
    /// A manager's approval: --manager NAME and KAUNTA_MANAGER_PIN.
    Set {
        /// pesavoucher, telesend, giftpesa, pesapal or bitpesa.
        provider: ProviderId,
        #[arg(long)]
        manager: String,
    },
    /// Which providers have credentials (never shows them).
    Status {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum StaffAction {
    /// Adds a person; the new PIN comes from KAUNTA_NEW_PIN. The first person
    /// added to a till's data must be a manager and needs no approval; after
    /// that, --manager and KAUNTA_MANAGER_PIN approve.
    Add {
        name: String,
        #[arg(long, value_enum)]
        role: StaffRole,
        #[arg(long)]
        manager: Option<String>,
    },
    /// Everyone who may sign in (never their PINs).
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StaffRole {
    Cashier,
    Manager,
}

/// PINs come from the environment, never the command line, where `ps` and
/// the shell history would show them.
fn pin_from_env(var: &'static str) -> Result<String, FlowError> {
    std::env::var(var).map_err(|_| FlowError::Staff(kaunta_core::staff::StaffError::PinMissing(var)))
}

/// A manager's approval for a headless command: --manager NAME and KAUNTA_MANAGER_PIN.
async fn approve(till: &Till, manager: &str) -> Result<kaunta_core::staff::Staff, FlowError> {
    let pin = pin_from_env("KAUNTA_MANAGER_PIN")?;
    Ok(till.approve_as_manager(manager, &pin).await?)
}

pub fn main(cli: Cli) -> ExitCode {
    let data_dir = match resolve_data_dir(cli.data_dir.as_deref()) {
        Ok(dir) => dir,
        Err(e) => return fail(&FlowError::from(e).to_public(), false, EXIT_USAGE),
    };
    let Some(command) = cli.command else {
        return crate::run_window(&data_dir);
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    ExitCode::from(runtime.block_on(run(command, data_dir)))
}

/// The audit head this data directory's till kept in the keyring at its
/// last Z close, read without opening (or creating) its database.
async fn kept_anchor(data_dir: &std::path::Path) -> Result<Option<kaunta_core::ledger::anchor::AuditAnchor>, String> {
    let config = kaunta_core::config::Config::load(data_dir).map_err(|e| e.to_string())?;
    let database = kaunta_core::ledger::anchor::anchor_name_of(&data_dir.join(kaunta_core::ledger::LEDGER_FILE));
    let secrets = kaunta_core::secrets::SecretStore::new(TillOptions::default().keyring_service);
    tokio::task::spawn_blocking(move || secrets.audit_anchor(&config.till_id, &database))
        .await
        .expect("reading the keyring does not panic")
        .map_err(|e| e.to_string())
}

fn print_json<T: Serialize>(value: &T) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut out, value);
    let _ = writeln!(out);
}

fn fail(e: &PublicError, json: bool, code: u8) -> ExitCode {
    report(e, json);
    ExitCode::from(code)
}

fn report(e: &PublicError, json: bool) {
    if json {
        print_json(&serde_json::json!({ "error": e }));
    } else {
        eprintln!("kaunta: {} [{}]", e.message, e.code);
    }
}

fn exit_for(e: &FlowError) -> u8 {
    use kaunta_core::staff::StaffError;
    // A wrong or locked PIN, or a cashier where a manager is needed: refused.
    let refused = matches!(
        e,
        FlowError::Staff(StaffError::WrongPin { .. } | StaffError::Unknown | StaffError::Locked { .. })
            | FlowError::Staff(StaffError::NotManager)
            | FlowError::Backup(_)
    );
    if e.is_declined() || refused { EXIT_DECLINED } else { EXIT_USAGE }
}

async fn open(data_dir: &std::path::Path) -> Result<Till, FlowError> {
    Till::open(data_dir, TillOptions::default()).await
}

async fn run(command: Command, data_dir: PathBuf) -> u8 {
    let json = match &command {
        Command::Validate { json, .. }
        | Command::Redeem { json, .. }
        | Command::Claim { json, .. }
        | Command::Denominations { json, .. }
        | Command::Merchants { json, .. }
        | Command::Checkout { json, .. }
        | Command::Status { json, .. }
        | Command::Ipn { action: IpnAction::Register { json, .. } }
        | Command::Ipn { action: IpnAction::List { json } }
        | Command::Resolve { json, .. }
        | Command::History { json, .. }
        | Command::Reconcile { json }
        | Command::Providers { json }
        | Command::Balances { json, .. }
        | Command::Payout { action: PayoutAction::Bitpesa { json, .. } }
        | Command::Payout { action: PayoutAction::Status { json, .. } }
        | Command::Payout { action: PayoutAction::Cancel { json, .. } }
        | Command::Webhook { action: WebhookAction::Verify { json, .. } } => *json,
        Command::Audit { action: AuditAction::Verify { json } } => *json,
        Command::Backup { action: Some(BackupAction::Verify { json, .. }), .. } => *json,
        Command::Backup { action: None, json, .. } => *json,
        Command::Shift { action: ShiftAction::Report { json, .. } } => *json,
        Command::Shift { action: ShiftAction::Reprint { json, .. } } => *json,
        Command::Credentials { action: CredentialsAction::Status { json } } => *json,
        Command::Staff { action: StaffAction::List { json } } => *json,
        _ => false,
    };
    match execute(command, &data_dir).await {
        Ok(code) => code,
        Err(e) => {
            report(&e.to_public(), json);
            exit_for(&e)
        }
    }
}

async fn execute(command: Command, data_dir: &std::path::Path) -> Result<u8, FlowError> {
    match command {
        Command::Simulate { port } => simulate(port).await,
        Command::Validate { provider, code, cashier, json } => {
            if provider != Provider::Pesavoucher {
                return Err(FlowError::Declined {
                    code: "wrong_flow",
                    message: "Only PesaVoucher vouchers can be checked without redeeming; Telesend uses `claim`".into(),
                });
            }
            let till = open(data_dir).await?;
            let v = till.validate_voucher(&cashier, &code).await?;
            if json {
                print_json(&v);
            } else if v.valid {
                let amount = v.amount.as_ref().map(|a| a.display.as_str()).unwrap_or("");
                println!("VALID {} {} {}", v.code_masked, amount, v.customer_name.as_deref().unwrap_or(""));
            } else {
                for r in &v.reasons {
                    println!("INVALID {} {} [{}]", v.code_masked, r.message, r.code);
                }
            }
            Ok(if v.valid { EXIT_OK } else { EXIT_DECLINED })
        }
        Command::Redeem {
            provider,
            code,
            cashier,
            name,
            phone,
            amount,
            till: till_no,
            remarks,
            confirm_repeat,
            verification_code,
            json,
        } => {
            let needs_code = || FlowError::InvalidCode(kaunta_core::voucher_code::VoucherCodeError::Empty);
            let till = open(data_dir).await?;
            till.recover("system").await?;
            let r = match provider {
                Provider::Pesavoucher => till.redeem_voucher(&cashier, &code.ok_or_else(needs_code)?).await?,
                Provider::Telesend => {
                    till.redeem_gift(&cashier, &code.ok_or_else(needs_code)?, verification_code.as_deref()).await?
                }
                Provider::Giftpesa => {
                    let input = kaunta_core::redeem::giftpesa::GiftPesaInput {
                        name: name.unwrap_or_default(),
                        phone: phone.unwrap_or_default(),
                        amount: amount.unwrap_or_default(),
                        till: till_no,
                        remarks,
                        confirm_repeat,
                    };
                    till.redeem_giftpesa(&cashier, &input).await?
                }
            };
            if json {
                print_json(&r);
            } else {
                println!("{} {}: {}", r.state.to_uppercase(), r.transaction_id, r.message);
                if let Some(receipt) = &r.receipt {
                    match (&receipt.printer, &receipt.print_error) {
                        (_, Some(err)) => println!("receipt: {} ({err})", receipt.path),
                        (Some(p), None) if receipt.printed => {
                            println!("receipt: printed on {p}, saved {}", receipt.path)
                        }
                        _ => println!("receipt: saved {}", receipt.path),
                    }
                }
            }
            Ok(if r.state == "completed" { EXIT_OK } else { EXIT_UNKNOWN })
        }
        Command::Claim { provider: ClaimProvider::Telesend, code, amount, cashier, json } => {
            let till = open(data_dir).await?;
            let c = till.claim_gift(&cashier, &code, amount.as_deref()).await?;
            if json {
                print_json(&c);
            } else {
                let amount = c.amount.as_ref().map_or("the whole voucher".to_string(), |a| a.display.clone());
                println!("CLAIMED {} for {amount}: {}", c.code_masked, c.message);
                if let Some(sms) = &c.training_sms_code {
                    println!("training SMS code: {sms}");
                }
            }
            Ok(EXIT_OK)
        }
        Command::Checkout { provider: _, amount, description, phone, email, cashier, wait, json } => {
            let till = open(data_dir).await?;
            let input =
                kaunta_core::redeem::pesapal::CheckoutInput { amount, description, phone, email, ..Default::default() };
            let started = till.checkout_pesapal(&cashier, &input).await?;
            if json {
                print_json(&started);
            } else {
                println!("Pay {} at {}", started.amount.display, started.redirect_url);
                println!("{}", terminal_qr(&started.redirect_url));
                println!(
                    "Waiting for payment (Ctrl+C stops waiting; the order stays open: `kaunta status pesapal {}`)",
                    started.transaction_id
                );
            }
            let _ = std::io::stdout().flush();
            let status =
                till.wait_pesapal(&cashier, &started.transaction_id, std::time::Duration::from_secs(wait)).await?;
            report_checkout(&status, json);
            Ok(checkout_exit(&status))
        }
        Command::Status { provider: _, id, json } => {
            let till = open(data_dir).await?;
            let lookup = id.clone();
            let by_reference = till.db(move |l| l.transaction_by_reference("pesapal", &lookup)).await?;
            let transaction_id = by_reference.map_or(id, |row| row.id);
            let status = till.pesapal_status("headless", &transaction_id).await?;
            report_checkout(&status, json);
            Ok(checkout_exit(&status))
        }
        Command::Ipn { action } => {
            let till = open(data_dir).await?;
            let (settings, json) = match action {
                IpnAction::Register { url, method, manager, json } => {
                    let manager = approve(&till, &manager).await?;
                    let method = kaunta_core::providers::pesapal::IpnNotificationType::parse(&method)
                        .expect("clap allows GET or POST only");
                    (till.register_pesapal_ipn(&manager.name, &url, method).await?, json)
                }
                IpnAction::List { json } => (till.pesapal_ipns().await?, json),
                IpnAction::Choose { ipn_id, manager } => {
                    let manager = approve(&till, &manager).await?;
                    (till.choose_pesapal_ipn(&manager.name, &ipn_id).await?, false)
                }
            };
            if json {
                print_json(&settings);
            } else {
                for e in &settings.entries {
                    let mark = if settings.chosen.as_deref() == Some(e.ipn_id.as_str()) { "*" } else { " " };
                    println!("{mark} {}  {}", e.ipn_id, e.url);
                }
                if settings.chosen.is_none() {
                    println!("no IPN chosen yet: kaunta ipn choose IPN_ID");
                }
            }
            Ok(EXIT_OK)
        }
        Command::Merchants { provider: _, json } => {
            let till = open(data_dir).await?;
            let list = till.giftpesa_merchants().await?;
            if json {
                print_json(&list);
            } else {
                for m in &list {
                    println!("{:<24} {:<32} {}", m.merchant_id, m.merchant, m.category.label);
                }
            }
            Ok(EXIT_OK)
        }
        Command::Certificate { action: CertificateAction::Import { provider: _, file, manager } } => {
            let bytes = std::fs::read(&file).map_err(|e| FlowError::Declined {
                code: "certificate",
                message: format!("Cannot read {}: {e}", file.display()),
            })?;
            let till = open(data_dir).await?;
            let manager = approve(&till, &manager).await?;
            let path = till.import_giftpesa_certificate(&bytes, &manager.name).await?;
            println!("GiftPesa key.crt imported to {}", path.display());
            Ok(EXIT_OK)
        }
        Command::Denominations { provider: ClaimProvider::Telesend, json } => {
            let till = open(data_dir).await?;
            let list = till.gift_denominations().await?;
            if json {
                print_json(&list);
            } else {
                for d in &list {
                    println!("{:>4}  {:>14}  {}", d.id, d.amount.display, if d.active { "active" } else { "inactive" });
                }
            }
            Ok(EXIT_OK)
        }
        Command::Resolve { transaction_id, outcome, reason, manager, json } => {
            let till = open(data_dir).await?;
            let manager = approve(&till, &manager).await?;
            let to = match outcome {
                Resolution::Completed => kaunta_core::ledger::State::Completed,
                Resolution::Failed => kaunta_core::ledger::State::Failed,
            };
            let row = till.resolve(&manager.name, &transaction_id, to, &reason).await?;
            if json {
                print_json(&kaunta_core::till::TransactionView::from(row));
            } else {
                println!("{} is now {}", row.id, row.state);
            }
            Ok(EXIT_OK)
        }
        Command::History {
            limit,
            since,
            until,
            provider,
            status,
            cashier,
            till: till_id,
            operation,
            search,
            include_training,
            totals,
            manager,
            json,
            csv,
            pdf,
        } => {
            let filter = kaunta_core::ledger::history::HistoryFilter {
                since,
                until,
                provider,
                state: status,
                cashier,
                till_id,
                operation,
                search,
                include_training,
            };
            let till = open(data_dir).await?;
            till.recover("system").await?;
            if csv {
                till.export_history_csv(&manager, filter, std::io::stdout(), 0, |_| {}).await?;
                return Ok(EXIT_OK);
            }
            if pdf {
                println!("{}", till.export_history_pdf(&manager, filter).await?.path);
                return Ok(EXIT_OK);
            }
            let rows = if filter == Default::default() && !totals {
                till.recent(limit.clamp(1, 10_000)).await?
            } else {
                let page = till.history(&manager, filter, None, limit.clamp(1, 10_000)).await?;
                if totals {
                    let totals = page.totals.unwrap_or_default();
                    if json {
                        print_json(&totals);
                    } else {
                        print_history_totals(&totals);
                    }
                    return Ok(EXIT_OK);
                }
                page.rows
            };
            if json {
                print_json(&rows);
            } else {
                for r in &rows {
                    let amount = r.amount.as_ref().map(|a| a.display.clone()).unwrap_or_default();
                    let training = if r.training { " TRAINING" } else { "" };
                    println!(
                        "{}  {:<9} {:<12} {:<22} {:>16}  {}{}",
                        r.created_at, r.state, r.provider, r.code_masked, amount, r.cashier, training
                    );
                }
            }
            Ok(EXIT_OK)
        }
        Command::Providers { json } => {
            use kaunta_core::health::{HealthBoard, PROBE_TIMEOUT, Reach};
            let till = open(data_dir).await?;
            let board = HealthBoard::default();
            till.check_providers(&board, PROBE_TIMEOUT).await;
            let health = board.snapshot();
            if json {
                print_json(&health);
            } else {
                for h in &health {
                    let state = match h.reach {
                        Reach::Up => "reachable",
                        Reach::Down => h.message.as_deref().unwrap_or("cannot be reached"),
                        Reach::Unknown => "not configured",
                    };
                    println!("{:<12} {state}", h.name);
                }
            }
            Ok(if health.iter().any(|h| h.reach == Reach::Down) { EXIT_DECLINED } else { EXIT_OK })
        }
        Command::Reconcile { json } => {
            let till = open(data_dir).await?;
            let settled = till.recover("system").await?;
            let open_rows = till.db(|l| l.open_transactions()).await?;
            let still_open = open_rows.len();
            if json {
                let settled: Vec<_> = settled.into_iter().map(kaunta_core::till::TransactionView::from).collect();
                let open_rows: Vec<_> = open_rows.into_iter().map(kaunta_core::till::TransactionView::from).collect();
                print_json(&serde_json::json!({ "settled": settled, "still_open": open_rows }));
            } else {
                for r in &settled {
                    println!("settled {} as {}", r.id, r.state);
                }
                println!("{still_open} transaction(s) still need a manager");
            }
            Ok(if still_open == 0 { EXIT_OK } else { EXIT_UNKNOWN })
        }
        Command::Audit { action: AuditAction::Verify { json } } => {
            use kaunta_core::ledger::anchor::AnchorCheck;
            let till = open(data_dir).await?;
            // The chain, then the head kept in the keyring at the last shift close.
            let v = till.verify_audit_anchored().await?;
            if json {
                print_json(&v);
            } else if let Some(bad) = &v.chain.first_bad {
                if v.rows_before_are_intact() {
                    println!("BROKEN at row {}: {} ({} rows before it are intact)", bad.seq, bad.reason, v.chain.rows);
                } else {
                    println!("BROKEN at row {}: {}", bad.seq, bad.reason);
                }
            } else {
                println!("OK: {} audit rows, chain intact, head {}", v.chain.rows, v.chain.head);
                match &v.anchor {
                    AnchorCheck::Matched { anchor } => {
                        println!("anchor: row {} kept at the shift close of {} matches", anchor.seq, anchor.at)
                    }
                    AnchorCheck::None => println!("anchor: none yet (no shift has closed at this till)"),
                    AnchorCheck::Unchecked { reason } => println!("anchor: not checked: {reason}"),
                    AnchorCheck::Missing { .. } | AnchorCheck::Mismatch { .. } => {}
                }
            }
            Ok(if v.is_intact() { EXIT_OK } else { EXIT_DECLINED })
        }
        Command::Backup { action: Some(BackupAction::Verify { file, json }), .. } => {
            use kaunta_core::backup::BackupAnchor;
            let anchor = kept_anchor(data_dir).await;
            let checked =
                tokio::task::spawn_blocking(move || kaunta_core::backup::verify_backup_anchored(&file, anchor))
                    .await
                    .expect("a backup check does not panic");
            match checked {
                Ok(c) if json => print_json(&c),
                Ok(a) => {
                    let c = &a.check;
                    println!(
                        "OK: {} is intact: {} transaction(s), {} audit row(s), head row {} {}",
                        c.path, c.transactions, c.audit_rows, c.head.seq, c.head.hash
                    );
                    match &a.anchor {
                        BackupAnchor::Holds { anchor } => {
                            println!("anchor: it holds row {} as kept at the Z close at {}", anchor.seq, anchor.at)
                        }
                        BackupAnchor::Older { anchor } => println!(
                            "anchor: it ends at row {}, before row {} kept at the Z close at {}: restoring it loses \
                             the rows after row {}",
                            c.head.seq, anchor.seq, anchor.at, c.head.seq
                        ),
                        BackupAnchor::None => println!("anchor: none yet (no shift has closed at this till)"),
                        BackupAnchor::Unchecked { reason } => println!("anchor: not checked: {reason}"),
                    }
                }
                Err(e) => {
                    report(&FlowError::from(e).to_public(), json);
                    if !json {
                        eprintln!("Do not restore from this file.");
                    }
                    return Ok(EXIT_DECLINED);
                }
            }
            Ok(EXIT_OK)
        }
        Command::Backup { action: None, to, manager, json } => {
            let till = open(data_dir).await?;
            let manager = manager.ok_or(FlowError::Staff(kaunta_core::staff::StaffError::ApprovalMissing))?;
            let by = approve(&till, &manager).await?;
            let dir = to.unwrap_or_else(|| till.backup_dir());
            let made = till.back_up_to(&by.name, "asked for from the command line", dir).await?;
            if json {
                print_json(&made);
            } else {
                let c = &made.check;
                println!("Backed up to {}", c.path);
                println!(
                    "{} transaction(s), {} audit row(s), head row {} {}",
                    c.transactions, c.audit_rows, c.head.seq, c.head.hash
                );
                if !made.pruned.is_empty() {
                    println!("{} older backup(s) deleted", made.pruned.len());
                }
                if let Some(e) = &made.prune_error {
                    println!("warning: {e}");
                }
            }
            Ok(EXIT_OK)
        }
        Command::Shift { action: ShiftAction::Report { cashier, json } } => {
            let till = open(data_dir).await?;
            let x = till.x_report(&cashier, false).await?;
            if json {
                print_json(&x.report);
            } else {
                print_shift_report(&x.report);
            }
            Ok(EXIT_OK)
        }
        Command::Shift { action: ShiftAction::Reprint { shift_id, manager, json } } => {
            let till = open(data_dir).await?;
            let by = approve(&till, &manager).await?;
            let copy = till.reprint_z(&by, &shift_id).await?;
            let d = &copy.delivery;
            if json {
                print_json(&copy);
            } else {
                println!("REPRINT of the Z report, for {}", by.name);
                print_shift_report(&copy.report);
                match (&d.print_error, &d.printer) {
                    (Some(e), _) => println!("saved {} (not printed: {e})", d.path),
                    (None, Some(p)) if d.printed => println!("printed on {p}, saved {}", d.path),
                    _ => println!("saved {}", d.path),
                }
            }
            // Saved but not printed as asked is still a failure a script must see.
            Ok(if d.print_error.is_none() { EXIT_OK } else { EXIT_DECLINED })
        }
        Command::Staff { action: StaffAction::Add { name, role, manager } } => {
            let till = open(data_dir).await?;
            let pin = pin_from_env("KAUNTA_NEW_PIN")?;
            let role = match role {
                StaffRole::Cashier => kaunta_core::staff::Role::Cashier,
                StaffRole::Manager => kaunta_core::staff::Role::Manager,
            };
            let added = if till.needs_first_manager().await? {
                if role != kaunta_core::staff::Role::Manager {
                    return Err(FlowError::Staff(kaunta_core::staff::StaffError::NotManager));
                }
                till.create_first_manager(&name, &pin).await?;
                name
            } else {
                let Some(manager) = manager else {
                    return Err(FlowError::Staff(kaunta_core::staff::StaffError::ApprovalMissing));
                };
                let by = approve(&till, &manager).await?;
                till.add_staff(&by, &name, role, &pin).await?.name
            };
            println!("{added} can now sign in as {}", role.as_str());
            Ok(EXIT_OK)
        }
        Command::Staff { action: StaffAction::List { json } } => {
            let till = open(data_dir).await?;
            let staff = till.list_staff().await?;
            if json {
                print_json(&staff);
            } else {
                for s in &staff {
                    let status = if s.active { "active" } else { "deactivated" };
                    println!("{:<24} {:<8} {status}", s.name, s.role.as_str());
                }
            }
            Ok(EXIT_OK)
        }
        Command::Credentials { action: CredentialsAction::Set { provider, manager } } => {
            let mut input = String::new();
            std::io::stdin()
                .take(64 * 1024)
                .read_to_string(&mut input)
                .map_err(|e| kaunta_core::secrets::SecretError::Invalid(format!("cannot read standard input: {e}")))?;
            let value: serde_json::Value = serde_json::from_str(&input).map_err(|_| {
                kaunta_core::secrets::SecretError::Invalid("standard input is not a JSON object".into())
            })?;
            let till = open(data_dir).await?;
            let manager = approve(&till, &manager).await?;
            let env = till.set_credentials(provider, value, &manager.name).await?;
            println!("{provider} credentials saved in the system keyring for {env} mode");
            Ok(EXIT_OK)
        }
        Command::Balances { provider: _, manager, json } => {
            let till = open(data_dir).await?;
            let manager = approve(&till, &manager).await?;
            let balances = till.bitpesa_balances(&manager).await?;
            if json {
                print_json(&balances);
            } else {
                for b in &balances {
                    match &b.amount {
                        Some(m) => println!("{}", m.display),
                        None => println!("{} {}", b.currency, b.amount_text),
                    }
                }
            }
            Ok(EXIT_OK)
        }
        Command::Payout { action } => payout(action, data_dir).await,
        Command::Webhook { action: WebhookAction::Verify { provider: _, file, url, key, nonce, signature, json } } => {
            let body = std::fs::read_to_string(&file).map_err(|e| FlowError::Declined {
                code: "webhook_file",
                message: format!("Cannot read {}: {e}", file.display()),
            })?;
            let till = open(data_dir).await?;
            let delivery = kaunta_core::redeem::payout::WebhookDelivery { url, key, nonce, signature, body };
            let view = till.import_bitpesa_webhook("webhook", &delivery).await?;
            report_payout(&view, json);
            Ok(EXIT_OK)
        }
        Command::Credentials { action: CredentialsAction::Status { json } } => {
            let till = open(data_dir).await?;
            let status = till.credential_status();
            if json {
                print_json(&status);
            } else {
                for s in &status {
                    println!("{} ({}): {}", s.provider, s.environment, s.message);
                }
            }
            Ok(EXIT_OK)
        }
    }
}

async fn payout(action: PayoutAction, data_dir: &std::path::Path) -> Result<u8, FlowError> {
    use std::time::Duration;
    match action {
        PayoutAction::Bitpesa {
            corridor,
            amount,
            first_name,
            last_name,
            phone,
            name,
            bank_code,
            account,
            street,
            city,
            network,
            transfer_reason,
            reason,
            manager,
            wait,
            json,
        } => {
            let recipient = [
                ("first_name", first_name),
                ("last_name", last_name),
                ("phone_number", phone),
                ("name", name),
                ("bank_code", bank_code),
                ("bank_account", account),
                ("street", street),
                ("city", city),
                ("mobile_provider", network),
                ("transfer_reason", transfer_reason),
            ]
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_string(), v?)))
            .collect();
            let input = kaunta_core::redeem::payout::PayoutInput { corridor, amount, recipient, reason };
            let till = open(data_dir).await?;
            till.recover("system").await?;
            let manager = approve(&till, &manager).await?;
            let started = till.start_payout(&manager, &input).await?;
            let view = if started.state == "pending" {
                till.follow_payout(&manager.name, &started.transaction_id, Duration::from_secs(wait)).await?
            } else {
                started
            };
            report_payout(&view, json);
            Ok(payout_exit(&view))
        }
        PayoutAction::Status { id, json } => {
            let till = open(data_dir).await?;
            let view = till.follow_payout("headless", &id, Duration::ZERO).await?;
            report_payout(&view, json);
            Ok(payout_exit(&view))
        }
        PayoutAction::Cancel { id, manager, wait, json } => {
            let till = open(data_dir).await?;
            let manager = approve(&till, &manager).await?;
            let view = till.cancel_payout(&manager, &id).await?;
            let view = if view.state == "pending" {
                till.follow_payout(&manager.name, &view.transaction_id, Duration::from_secs(wait)).await?
            } else {
                view
            };
            report_payout(&view, json);
            // Cancelled and refunded is what was asked for.
            Ok(match view.state.as_str() {
                "failed" => EXIT_OK,
                "completed" => EXIT_DECLINED,
                _ => EXIT_UNKNOWN,
            })
        }
    }
}

fn report_payout(view: &kaunta_core::redeem::payout::PayoutView, json: bool) {
    if json {
        print_json(view);
        return;
    }
    let amount = view.amount.as_ref().map(|a| a.display.as_str()).unwrap_or("");
    println!(
        "{} {} {} {amount} to {}: {}",
        view.state.to_uppercase(),
        view.transaction_id,
        view.corridor,
        view.recipient,
        view.message
    );
    if let Some(reason) = &view.state_reason {
        println!("BitPesa says (for managers): {reason}");
    }
    if view.may_cancel {
        println!("cancel with: kaunta payout cancel {} --manager NAME", view.transaction_id);
    }
    if let Some(receipt) = &view.receipt {
        println!("slip: {}", receipt.path);
    }
}

/// 0 paid out, 1 failed, 3 still pending or unknown.
fn payout_exit(view: &kaunta_core::redeem::payout::PayoutView) -> u8 {
    match view.state.as_str() {
        "completed" => EXIT_OK,
        "failed" => EXIT_DECLINED,
        _ => EXIT_UNKNOWN,
    }
}

/// `KES redeem: 12 completed KES 14,500.50; 1 open KES 250.00; 2 failed`, per currency and operation.
fn print_history_totals(totals: &kaunta_core::ledger::history::HistoryTotals) {
    let money = |minor: i64, currency: Option<&str>| {
        kaunta_core::till::MoneyView::from_parts(Some(minor), currency)
            .map_or_else(|| format!("{} {minor} (minor units)", currency.unwrap_or("?")), |m| m.display)
    };
    for c in &totals.by_currency {
        let currency = c.currency.as_deref();
        println!(
            "{} {}: {} completed {}; {} open {}; {} failed{}",
            currency.unwrap_or("(no amount)"),
            c.operation,
            c.completed_count,
            money(c.completed_minor, currency),
            c.open_count,
            money(c.open_minor, currency),
            c.failed_count,
            if c.training { " TRAINING" } else { "" }
        );
    }
    println!("{} transaction(s)", totals.count);
}

/// An X or Z report as text: the shift, then per currency, provider and status, cashier.
fn print_shift_report(r: &kaunta_core::shift::ShiftReport) {
    let shown = |m: &Option<kaunta_core::till::MoneyView>| m.as_ref().map_or(String::new(), |m| m.display.clone());
    let training = |t: bool| if t { " TRAINING" } else { "" };
    println!("shift {} at {}: opened by {} at {}", r.shift.id, r.shift.till_id, r.shift.opened_by, r.shift.opened_at);
    println!("{} transaction(s) up to {}{}", r.count, r.until, training(r.training));
    for c in &r.by_currency {
        let t = &c.total;
        println!(
            "{} {}: {} completed {}; {} open {}; {} failed{}",
            t.currency.as_deref().unwrap_or("(no amount)"),
            t.operation,
            t.completed_count,
            shown(&c.completed),
            t.open_count,
            shown(&c.open),
            t.failed_count,
            training(t.training)
        );
    }
    for g in &r.by_provider {
        let t = &g.group;
        println!(
            "  {:<12} {:<14} {:<9} {:>5} {:>18}{}",
            t.provider,
            t.operation,
            t.state.as_str(),
            t.count,
            shown(&g.amount),
            training(t.training)
        );
    }
    for c in &r.by_cashier {
        for l in &c.by_currency {
            let t = &l.total;
            println!(
                "  {:<20} {} {}: {} completed {}; {} open; {} failed{}",
                c.cashier,
                t.currency.as_deref().unwrap_or("(no amount)"),
                t.operation,
                t.completed_count,
                shown(&l.completed),
                t.open_count,
                t.failed_count,
                training(t.training)
            );
        }
    }
}

/// Serves the simulators until interrupted; the first line of output is a
/// JSON object with their addresses, for scripts and tests to read.
async fn simulate(port: u16) -> Result<u8, FlowError> {
    let sims = Simulators::start(port).await.map_err(|e| FlowError::Simulator(e.to_string()))?;
    let addresses = serde_json::json!({
        "pesavoucher": sims.base_url(ProviderId::PesaVoucher).as_str(),
        "telesend": sims.base_url(ProviderId::Telesend).as_str(),
        "giftpesa": sims.base_url(ProviderId::GiftPesa).as_str(),
        "pesapal": sims.base_url(ProviderId::Pesapal).as_str(),
        "bitpesa": sims.base_url(ProviderId::BitPesa).as_str(),
        "control": format!("http://{}/__sim", sims.addr()),
    });
    println!("{addresses}");
    let _ = std::io::stdout().flush();
    let _ = tokio::signal::ctrl_c().await;
    Ok(EXIT_OK)
}

fn terminal_qr(text: &str) -> String {
    match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code.render::<qrcode::render::unicode::Dense1x2>().quiet_zone(true).build(),
        Err(_) => String::new(),
    }
}

fn report_checkout(status: &kaunta_core::redeem::pesapal::CheckoutStatus, json: bool) {
    if json {
        print_json(status);
        return;
    }
    let detail = [&status.payment_method, &status.payment_account, &status.confirmation_code]
        .iter()
        .filter_map(|s| s.as_deref())
        .collect::<Vec<_>>()
        .join(" ");
    println!("{} {}: {} {detail}", status.state.to_uppercase(), status.transaction_id, status.message);
}

/// 0 paid, 1 failed, 3 still open or unknown.
fn checkout_exit(status: &kaunta_core::redeem::pesapal::CheckoutStatus) -> u8 {
    match status.state.as_str() {
        "completed" => EXIT_OK,
        "failed" => EXIT_DECLINED,
        _ => EXIT_UNKNOWN,
    }
}
