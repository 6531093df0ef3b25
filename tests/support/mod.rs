//! Shared by the end-to-end tests: the real `kaunta` binary, a data
//! directory per test, the simulator as its own process, and waiting on
//! conditions (never on the clock alone).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The app under test: `KAUNTA_BIN`, or the debug build in the workspace.
pub fn kaunta_bin() -> PathBuf {
    let bin = std::env::var_os("KAUNTA_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/debug/kaunta"));
    assert!(bin.exists(), "{} is missing: run `cargo build -p kaunta` (scripts/test does)", bin.display());
    bin
}

/// Where tests leave screenshots and other artifacts for a person to look at.
pub fn artifacts_dir() -> PathBuf {
    let dir = workspace_root().join("target/e2e-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Polls `ready` until it holds or `within` passes. For conditions that
/// offer nothing to block on (a port opening, a file appearing).
pub fn wait_until(what: &str, within: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    let mut pause = Duration::from_millis(5);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out after {within:?} waiting for {what}");
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn wait_for_port(port: u16, within: Duration) {
    wait_until(&format!("port {port}"), within, || TcpStream::connect(("127.0.0.1", port)).is_ok());
}

/// The PIN `add_manager` gives the managers it creates.
pub const MANAGER_PIN: &str = "2580";

/// A till's data directory with its config.toml.
pub struct Till {
    pub dir: tempfile::TempDir,
}

impl Till {
    pub fn new(config_toml: &str) -> Till {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.toml"), config_toml).unwrap();
        Till { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(kaunta_bin());
        cmd.arg("--data-dir").arg(self.path()).args(args);
        // Manager commands read the PIN from here (see `add_manager`).
        cmd.env("KAUNTA_MANAGER_PIN", MANAGER_PIN);
        cmd
    }

    /// Creates the till's first manager, as `kaunta staff add` does on a new till.
    pub fn add_manager(&self, name: &str) {
        let out = self
            .command(&["staff", "add", name, "--role", "manager"])
            .env("KAUNTA_NEW_PIN", MANAGER_PIN)
            .output()
            .unwrap();
        assert!(out.status.success(), "staff add: {}", String::from_utf8_lossy(&out.stderr));
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).stdin(Stdio::null()).output().unwrap()
    }

    /// Runs a command with extra environment and `input` on its standard input.
    pub fn run_with_input(&self, args: &[&str], env: &[(&str, &str)], input: &str) -> Output {
        use std::io::Write;
        let mut child = self
            .command(args)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }

    pub fn run_json(&self, args: &[&str]) -> (i32, serde_json::Value) {
        let out = self.run(args);
        let value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{args:?}: not JSON ({e}): {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap_or(-1), value)
    }

    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.path().join("kaunta.sqlite3")).unwrap()
    }

    /// (state, count) of the transactions for one voucher code.
    pub fn states_of(&self, code: &str) -> Vec<String> {
        let db = self.db();
        let mut stmt =
            db.prepare("SELECT state FROM transactions WHERE voucher_code = ?1 ORDER BY created_at").unwrap();
        stmt.query_map([code], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    }

    pub fn audit_events(&self) -> Vec<String> {
        let db = self.db();
        let mut stmt = db.prepare("SELECT event FROM audit_log ORDER BY seq").unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    }
}

/// `kaunta simulate` in its own process: it outlives the app processes a
/// crash test kills, so the provider remembers what it did.
pub struct Simulator {
    child: Child,
    pub pesavoucher: String,
    pub telesend: String,
    pub giftpesa: String,
    pub pesapal: String,
    pub bitpesa: String,
    pub control: String,
    http: reqwest::Client,
}

impl Simulator {
    pub fn start() -> Simulator {
        let mut child =
            Command::new(kaunta_bin()).arg("simulate").stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).expect("simulate prints its addresses as JSON");
        Simulator {
            child,
            pesavoucher: v["pesavoucher"].as_str().unwrap().into(),
            telesend: v["telesend"].as_str().unwrap().into(),
            giftpesa: v["giftpesa"].as_str().unwrap().into(),
            pesapal: v["pesapal"].as_str().unwrap().into(),
            bitpesa: v["bitpesa"].as_str().unwrap().into(),
            control: v["control"].as_str().unwrap().into(),
            http: reqwest::Client::new(),
        }
    }

    /// A config.toml for a training till that uses this simulator.
    pub fn training_config(&self) -> String {
        format!(
            "environment = \"training\"\nstore_name = \"Duka la Mama Njeri\"\ntill_id = \"TILL-7\"\n\n[receipt]\nprint = false\n\n[providers.pesavoucher]\nbase_url = \"{}\"\n\n[providers.telesend]\nbase_url = \"{}\"\nmerchant_id = 1\n\n[providers.giftpesa]\nbase_url = \"{}\"\n\n[providers.pesapal]\nbase_url = \"{}\"\n\n[providers.bitpesa]\nbase_url = \"{}\"\n",
            self.pesavoucher, self.telesend, self.giftpesa, self.pesapal, self.bitpesa
        )
    }

    pub async fn inject(&self, endpoint: &str, fault: serde_json::Value) {
        self.inject_for("pesavoucher", endpoint, fault).await
    }

    pub async fn inject_for(&self, provider: &str, endpoint: &str, fault: serde_json::Value) {
        let r = self
            .http
            .post(format!("{}/faults?provider={provider}", self.control))
            .json(&serde_json::json!({"endpoint": endpoint, "fault": fault}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }

    /// Blocks (server side) until the endpoint has received `count` requests.
    pub async fn wait_received(&self, endpoint: &str, count: u64) {
        self.wait_for("pesavoucher", endpoint, count).await
    }

    /// Blocks (server side) until the provider's endpoint has received `count` requests.
    pub async fn wait_for(&self, provider: &str, endpoint: &str, count: u64) {
        let r = self
            .http
            .get(format!("{}/wait?provider={provider}&endpoint={endpoint}&count={count}", self.control))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "the simulator never received {count} {endpoint} request(s)");
    }

    /// The SMS code a Telesend customer would have received.
    pub async fn telesend_sms(&self, voucher: &str) -> String {
        let v: serde_json::Value = self
            .http
            .get(format!("{}/telesend/sms?voucher={voucher}", self.control))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["verification_code"].as_str().unwrap().to_string()
    }

    /// Pesapal orders the simulator holds (tracking id, reference, status …).
    pub async fn pesapal_orders(&self) -> serde_json::Value {
        self.http.get(format!("{}/pesapal/orders", self.control)).send().await.unwrap().json().await.unwrap()
    }

    /// Completes, fails or reverses an order as if the customer had paid.
    pub async fn pesapal_order(&self, tracking_id: &str, action: &str) {
        let r = self.http.post(format!("{}/pesapal/orders/{tracking_id}/{action}", self.control)).send().await.unwrap();
        assert!(r.status().is_success(), "{action} {tracking_id}: {}", r.status());
    }

    /// The BitPesa simulator's state: balances, senders, transactions.
    pub async fn bitpesa_state(&self) -> serde_json::Value {
        self.http.get(format!("{}/bitpesa/state", self.control)).send().await.unwrap().json().await.unwrap()
    }

    /// GET on the simulator's control API (`path` after `/__sim`).
    pub async fn control_json(&self, path: &str) -> serde_json::Value {
        let r = self.http.get(format!("{}{path}", self.control)).send().await.unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap()
    }

    /// Requests one provider's `endpoint` has received.
    pub async fn received(&self, provider: &str, endpoint: &str) -> u64 {
        self.control_json(&format!("/received?provider={provider}")).await[endpoint].as_u64().unwrap_or(0)
    }

    pub async fn redemptions(&self, code: &str) -> u64 {
        let v: serde_json::Value = self
            .http
            .get(format!("{}/pesavoucher/redemptions", self.control))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v[code].as_u64().unwrap_or(0)
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Finds the file cups-pdf wrote for the receipt of transaction `id`
/// (its name comes from the job title, which carries the id).
pub fn cups_pdf_output(id: &str) -> impl Fn() -> Option<PathBuf> {
    let id = id.to_string();
    move || {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| "/root".into());
        let dirs = [home.join("PDF"), PathBuf::from("/var/spool/cups-pdf/ANONYMOUS"), PathBuf::from("/root/PDF")];
        dirs.iter().filter_map(|d| std::fs::read_dir(d).ok()).flatten().filter_map(Result::ok).map(|e| e.path()).find(
            |p| {
                p.file_name().is_some_and(|n| n.to_string_lossy().contains(&id))
                    && std::fs::metadata(p).is_ok_and(|m| m.len() > 0)
            },
        )
    }
}

/// `kaunta redeem giftpesa` for Jane Doe (0720 123 456, the simulator's
/// KES 1,000 balance) by the cashier amina, `--json`, followed by `extra`.
pub fn giftpesa_redeem_args<'a>(amount: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "redeem",
        "giftpesa",
        "--name",
        "Jane Doe",
        "--phone",
        "0720123456",
        "--amount",
        amount,
        "--cashier",
        "amina",
        "--json",
    ];
    args.extend_from_slice(extra);
    args
}

/// `kaunta payout bitpesa` for a KES 1,500 M-Pesa refund to Amina Wanjiru,
/// approved by the manager Njeri, followed by `extra` arguments.
pub fn bitpesa_payout_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "payout",
        "bitpesa",
        "--corridor",
        "KES::Mobile",
        "--amount",
        "1,500",
        "--first-name",
        "Amina",
        "--last-name",
        "Wanjiru",
        "--phone",
        "0712 345 678",
        "--reason",
        "Refund of order 123",
        "--manager",
        "Njeri",
    ];
    args.extend_from_slice(extra);
    args
}
