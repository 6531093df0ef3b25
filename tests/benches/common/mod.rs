//! What the release-app benchmarks share: the app's process tree and its
//! proportional set size, and tauri-driver started for one benchmark.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use crate::support::{Till, free_port, kaunta_bin, wait_for_port};

pub const UI_WAIT: Duration = Duration::from_secs(60);
/// How long memory is left to settle before it is read: the measurement's
/// own interval, not a wait for an event.
pub const SETTLE: Duration = Duration::from_secs(3);

/// A process seen in /proc.
pub struct Proc {
    pub pid: u32,
    pub ppid: u32,
    pub comm: String,
}

pub fn processes() -> Vec<Proc> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // "pid (comm) state ppid ...": the name may hold spaces and parentheses.
        let Some(close) = stat.rfind(')') else { continue };
        let ppid = stat[close + 2..].split(' ').nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
        let comm = stat[stat.find('(').unwrap_or(0) + 1..close].to_string();
        out.push(Proc { pid, ppid, comm });
    }
    out
}

pub fn children_of(pid: u32) -> Vec<u32> {
    processes().into_iter().filter(|p| p.ppid == pid).map(|p| p.pid).collect()
}

/// The app started for this data directory: our binary, with the directory on its command line.
pub fn app_pid(bin: &Path, data_dir: &Path) -> Option<u32> {
    let bin = bin.canonicalize().ok()?;
    processes().into_iter().map(|p| p.pid).find(|pid| {
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        exe.as_deref() == Some(bin.as_path())
            && String::from_utf8_lossy(&cmdline).contains(&*data_dir.to_string_lossy())
    })
}

/// PSS in MB from /proc/<pid>/smaps_rollup.
pub fn pss_mb(pid: u32) -> f64 {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let kb: f64 = rollup
        .lines()
        .find(|l| l.starts_with("Pss:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// Anonymous memory (heaps, JS, caches) in MB: unlike PSS, and unlike private
/// clean pages of libraries, it does not move when another WebKit app on the
/// machine maps the same libraries, so it shows the app's own growth even on
/// a shared machine.
pub fn anonymous_mb(pid: u32) -> f64 {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let kb: f64 = rollup
        .lines()
        .find(|l| l.starts_with("Anonymous:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// A process's program name: its executable's file name (`comm` is cut at 15 characters).
fn program(pid: u32, all: &[Proc]) -> String {
    std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .or_else(|| all.iter().find(|p| p.pid == pid).map(|p| p.comm.clone()))
        .unwrap_or_else(|| "?".into())
}

/// The app and every process below it, by name, with their PSS.
pub fn tree_pss(root: u32) -> Vec<(String, u32, f64)> {
    let all = processes();
    let mut out = Vec::new();
    let mut todo = vec![root];
    while let Some(pid) = todo.pop() {
        let name = program(pid, &all);
        out.push((name, pid, pss_mb(pid)));
        todo.extend(all.iter().filter(|p| p.ppid == pid).map(|p| p.pid));
    }
    out
}

pub fn kill(pid: u32) {
    let _ = Command::new("kill").arg(pid.to_string()).status();
}

/// tauri-driver and the WebKitWebDriver it starts, ended by their ids.
pub struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    /// `env` reaches the app: WebKitWebDriver starts it with its own environment.
    pub fn start(env: &[(&str, &str)]) -> Driver {
        let (port, native) = (free_port(), free_port());
        let child = Command::new("tauri-driver")
            .envs(env.iter().copied())
            .args(["--port", &port.to_string(), "--native-port", &native.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tauri-driver is installed by scripts/setup --with-test-tools");
        wait_for_port(port, Duration::from_secs(20));
        wait_for_port(native, Duration::from_secs(20));
        Driver { child, port }
    }

    pub async fn open(&self, till: &Till) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert("tauri:options".into(), json!({"application": kaunta_bin(), "args": ["--data-dir", till.path()]}));
        let url = format!("http://127.0.0.1:{}", self.port);
        let mut builder = ClientBuilder::new(HttpConnector::new());
        let connect = builder.capabilities(caps).connect(&url);
        tokio::time::timeout(UI_WAIT, connect).await.expect("a WebDriver session within a minute").unwrap()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let webdrivers = children_of(self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in webdrivers {
            kill(pid);
        }
    }
}
