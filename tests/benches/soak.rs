//! A 12-hour shift, simulated faster (budget: summed PSS of the app and its
//! WebKit processes grows under 10 %; no leak from events or DOM churn).
//!
//! Run by `scripts/bench` like the launch benchmark (a D-Bus session with a
//! fresh unlocked keyring, Xvfb, `KAUNTA_BIN` the release binary). One app,
//! one window, for the whole run: a first manager signs in as the launch
//! benchmark does, then the cashier screen is driven through
//! `KAUNTA_SOAK_REDEMPTIONS` vouchers (default 14,400: a 12-hour shift at one
//! every 3 s) as fast as the app answers. A script in the page does what a
//! scanner and the cashier's keys do (the code and Enter into the code field,
//! F9, Enter for the next customer), many vouchers per WebDriver call, so the
//! round trips do not set the pace. Nine in ten are fresh training vouchers
//! redeemed in full (validate + redeem, recent list refreshed); every tenth
//! is an already-used voucher, refused on validation and cleared with Escape.
//! Receipts are not printed. Every `KAUNTA_SOAK_SAMPLE_EVERY` vouchers the
//! summed PSS (the launch benchmark's method), the page's element count and
//! its JS heap (when the engine exposes one) are sampled.

mod common;
#[path = "../support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{Driver, SETTLE, UI_WAIT, anonymous_mb, app_pid, tree_pss};
use fantoccini::wd::TimeoutConfiguration;
use fantoccini::{Client, Locator};
use serde_json::json;
use support::{Till, kaunta_bin};

const GROWTH_BUDGET: f64 = 10.0;
/// How long the idle screen is watched after the shift (`KAUNTA_SOAK_IDLE_SECS`):
/// longer than the reconciler's 15 s and the provider probe's 30 s, so each
/// wakes at least once.
const IDLE_SECS: u64 = 60;
/// Vouchers per WebDriver call: small enough that a stuck screen is reported soon.
const BATCH: usize = 50;

/// One voucher after another, as a scanner and the cashier's keys would do
/// it. Waits on the page itself (a MutationObserver), never on a clock; a
/// screen that stops answering fails the batch after 30 s.
const DRIVE: &str = r##"
const [first, count] = arguments;
const done = arguments[arguments.length - 1];
const q = (css) => document.querySelector(css);
const until = (what, probe) => new Promise((resolve, reject) => {
  const now = probe();
  if (now) return resolve(now);
  const observer = new MutationObserver(() => {
    const hit = probe();
    if (hit) { clearTimeout(timer); observer.disconnect(); resolve(hit); }
  });
  const timer = setTimeout(() => { observer.disconnect(); reject(new Error(what + ' never came')); }, 30000);
  observer.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
});
const key = (el, name) => el.dispatchEvent(new KeyboardEvent('keydown', { key: name, bubbles: true, cancelable: true }));
const idleField = () => {
  const field = q('#voucher-code');
  const status = q('#voucher-status');
  return field && !field.readOnly && field.value === '' && status && status.dataset.state === 'idle' && field;
};
(async () => {
  let redeemed = 0, refused = 0, unknown = 0;
  const failures = [];
  for (let i = first; i < first + count; i++) {
    const field = await until('an empty code field', idleField);
    const used = i % 10 === 9;
    const code = used ? 'TRN-REDEEMED-01' : 'TRN-PRACTICE-SOAK' + i;
    field.value = code;
    field.dispatchEvent(new Event('input', { bubbles: true }));
    key(field, 'Enter');
    const state = await until('a validation answer for ' + code, () => {
      const s = q('#voucher-status');
      const look = s && s.dataset.state;
      return ['valid', 'invalid', 'error'].includes(look) && look;
    });
    if (state !== 'valid') {
      if (!used) failures.push(code + ': ' + (q('#voucher-error')?.textContent ?? state).trim());
      else refused++;
      key(q('#voucher-code'), 'Escape');
      continue;
    }
    key(field, 'F9');
    const outcome = await until('an outcome for ' + code, () =>
      (q('#redeem-success') && 'success') || (q('#redeem-unknown') && 'unknown') ||
      (q("#voucher-status[data-state='error']") && 'error'));
    if (outcome === 'success') redeemed++;
    else if (outcome === 'unknown') unknown++;
    else failures.push(code + ': ' + (q('#voucher-error')?.textContent ?? outcome).trim());
    key(q('#voucher-code'), outcome === 'error' ? 'Escape' : 'Enter');
  }
  await until('the screen back to idle', idleField);
  done({ redeemed, refused, unknown, failures });
})().catch((e) => done({ error: String(e) }));
"##;

/// The page's element count and JS heap: WebKit has no `performance.memory`,
/// so the heap is null there.
const PAGE: &str = r#"
const m = performance.memory;
return { nodes: document.getElementsByTagName('*').length,
         heap: m ? m.usedJSHeapSize / 1048576 : null,
         recent: document.querySelectorAll('#recent li').length };
"#;

/// CPU time (user + system) each of the app and its WebKit processes has
/// used, in seconds, by program name (summed over processes of one name).
fn cpu_seconds(app: u32) -> Vec<(String, f64)> {
    let mut by: Vec<(String, f64)> = Vec::new();
    for (name, pid, _) in tree_pss(app) {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // Fields after "(comm)": state is the first, utime the 12th, stime the 13th.
        let Some(close) = stat.rfind(')') else { continue };
        let f: Vec<&str> = stat[close + 2..].split(' ').collect();
        let ticks = f.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
            + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        // /proc counts in USER_HZ, 100 a second on Linux whatever the kernel's own tick.
        match by.iter_mut().find(|(n, _)| *n == name) {
            Some(entry) => entry.1 += ticks / 100.0,
            None => by.push((name, ticks / 100.0)),
        }
    }
    by
}

/// Per program, the share of one core used between two `cpu_seconds` readings.
fn cpu_percent(before: &[(String, f64)], after: &[(String, f64)], over: Duration) -> Vec<(String, f64)> {
    after
        .iter()
        .map(|(name, secs)| {
            let was = before.iter().find(|(n, _)| n == name).map_or(0.0, |b| b.1);
            (name.clone(), (secs - was) / over.as_secs_f64() * 100.0)
        })
        .collect()
}

struct Sample {
    done: usize,
    at: Duration,
    pss: f64,
    anonymous: f64,
    web: f64,
    app: f64,
    nodes: u64,
    heap: Option<f64>,
    recent: u64,
}

async fn poll(c: &Client, css: &str) -> fantoccini::elements::Element {
    let start = Instant::now();
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            return e;
        }
        assert!(start.elapsed() < UI_WAIT, "{css} never appeared");
    }
}

async fn sample(c: &Client, app: u32, done: usize, start: Instant) -> Sample {
    let tree = tree_pss(app);
    let of = |name: &str| tree.iter().filter(|p| p.0 == name).map(|p| p.2).sum::<f64>();
    let page = c.execute(PAGE, vec![]).await.unwrap();
    Sample {
        done,
        at: start.elapsed(),
        pss: tree.iter().map(|p| p.2).sum(),
        anonymous: tree.iter().map(|p| anonymous_mb(p.1)).sum(),
        web: of("WebKitWebProcess"),
        app: tree.first().map_or(0.0, |p| p.2),
        nodes: page["nodes"].as_u64().unwrap_or(0),
        heap: page["heap"].as_f64(),
        recent: page["recent"].as_u64().unwrap_or(0),
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn out_dir() -> PathBuf {
    std::env::var_os("KAUNTA_BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| support::workspace_root().join("target/bench"))
}

fn growth(from: f64, to: f64) -> f64 {
    (to - from) / from * 100.0
}

fn clock(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

#[tokio::main]
async fn main() {
    let total = env_usize("KAUNTA_SOAK_REDEMPTIONS", 14_400);
    let every = env_usize("KAUNTA_SOAK_SAMPLE_EVERY", (total / 24).max(BATCH)).max(1);
    let bin = kaunta_bin();
    let till = Till::new(
        "environment = \"training\"\nstore_name = \"Duka la Mama Njeri\"\ntill_id = \"TILL-1\"\n\n[receipt]\nprint = false\n",
    );
    let driver = Driver::start(&[]);
    let c = driver.open(&till).await;
    c.update_timeouts(TimeoutConfiguration::new(Some(Duration::from_secs(300)), None, None)).await.unwrap();

    // A new till's first screen creates its first manager: name, PIN, PIN again.
    poll(&c, "#cashier-input").await.send_keys("Amina Wanjiku").await.unwrap();
    poll(&c, "#pin-input").await.send_keys("4821").await.unwrap();
    poll(&c, "#pin-confirm").await.send_keys("4821\u{E007}").await.unwrap();
    poll(&c, "#voucher-code").await;
    tokio::time::sleep(SETTLE).await;
    let app = app_pid(&bin, till.path()).expect("the app's process");

    let start = Instant::now();
    let mut samples = vec![sample(&c, app, 0, start).await];
    let (mut redeemed, mut refused, mut unknown) = (0u64, 0u64, 0u64);
    let mut failures: Vec<String> = Vec::new();
    let mut done = 0;
    while done < total {
        let next_sample = (done / every + 1) * every;
        let n = BATCH.min(total - done).min(next_sample - done);
        let r = c.execute_async(DRIVE, vec![json!(done), json!(n)]).await.unwrap();
        if let Some(e) = r.get("error") {
            panic!("after {done} vouchers the screen stopped: {e}");
        }
        redeemed += r["redeemed"].as_u64().unwrap_or(0);
        refused += r["refused"].as_u64().unwrap_or(0);
        unknown += r["unknown"].as_u64().unwrap_or(0);
        failures.extend(r["failures"].as_array().into_iter().flatten().map(|f| f.as_str().unwrap_or("").to_string()));
        done += n;
        if done % every == 0 || done == total {
            let s = sample(&c, app, done, start).await;
            eprintln!(
                "  .. {done} vouchers in {}: PSS {:.0} MB (web {:.0}, app {:.0}), anonymous {:.0} MB, {} elements",
                clock(s.at),
                s.pss,
                s.web,
                s.app,
                s.anonymous,
                s.nodes
            );
            samples.push(s);
        }
    }
    let elapsed = start.elapsed();
    // A till waits most of the day: what the idle screen costs after the shift.
    let idle = Duration::from_secs(env_usize("KAUNTA_SOAK_IDLE_SECS", IDLE_SECS as usize) as u64);
    let before = cpu_seconds(app);
    tokio::time::sleep(idle).await;
    let idle_by = cpu_percent(&before, &cpu_seconds(app), idle);
    let idle_cpu: f64 = idle_by.iter().map(|p| p.1).sum();
    eprintln!(
        "  .. idle {} s: {idle_cpu:.1} % of a core ({})",
        idle.as_secs(),
        idle_by.iter().map(|(n, p)| format!("{n} {p:.2} %")).collect::<Vec<_>>().join(", ")
    );
    // Memory after the idle minute: what the collector and WebKit's timers
    // gave back on their own, separated from live growth.
    let rested = sample(&c, app, done, start).await;
    eprintln!(
        "  .. after idling: PSS {:.0} MB (web {:.0}, app {:.0}), anonymous {:.0} MB",
        rested.pss, rested.web, rested.app, rested.anonymous
    );
    c.close().await.unwrap();
    drop(driver);

    let (first, last) = (&samples[0], samples.last().unwrap());
    let peak = samples.iter().map(|s| s.pss).fold(0.0, f64::max);
    // Growth is judged from the first sample after a tenth of the shift: the
    // first vouchers fill WebKit's caches and JIT once, which is not a leak
    // (both figures are reported).
    let warm = samples.iter().find(|s| s.done >= total / 10).unwrap_or(first);
    let grew = growth(warm.pss, last.pss);
    let anonymous_grew = growth(warm.anonymous, last.anonymous);
    let verdict = if grew < GROWTH_BUDGET && failures.is_empty() { "meets" } else { "**misses**" };
    let rate = done as f64 / elapsed.as_secs_f64();

    let row = format!(
        "| a 12-hour shift: summed PSS growth over {done} vouchers in one window, release, Xvfb | {:.0} MB after {} vouchers → {:.0} MB at the end ({grew:+.1} %), peak {peak:.0} MB ({:.0} MB right after sign-in); {} → {} page elements | < 10 % growth (judged after the first tenth) | {verdict} |\n",
        warm.pss, warm.done, last.pss, first.pss, warm.nodes, last.nodes
    );
    let mut body = String::from("## A 12-hour shift (soak)\n\n");
    body.push_str(&format!(
        "The release binary (`{}`), one app and one window for the whole run, in training mode, in the same \
         environment as the launch benchmark. A first manager signs in; then a script in the page scans and \
         redeems {done} vouchers as a scanner and the cashier's keys do (code + Enter, F9, Enter for the next \
         customer), as fast as the app answers: {done} vouchers in {} ({rate:.1} a second; a shift at one every \
         3 s is 14,400). Nine in ten are fresh PesaVoucher training vouchers (validate + redeem, the recent list \
         refreshed after each); every tenth is an already-used voucher, refused on validation and cleared with \
         Escape. Receipts are not printed. Outcomes: {redeemed} redeemed, {refused} refused as expected, \
         {unknown} unknown, {} unexpected failures{}.\n\n",
        bin.display(),
        clock(elapsed),
        failures.len(),
        failures.first().map_or(String::new(), |f| format!(" (first: {f})")),
    ));
    body.push_str(&format!(
        "Summed PSS after the first tenth of the shift ({} vouchers) {:.0} MB, at the end {:.0} MB: {grew:+.1} % \
         (budget < 10 %); peak {peak:.0} MB. Anonymous memory over the same stretch: {:.0} MB → {:.0} MB \
         ({anonymous_grew:+.1} %). Right after sign-in it was {:.0} MB ({:+.1} % to the end): the first \
         vouchers fill WebKit's caches and JIT once, and the samples after that show whether memory keeps \
         growing. PSS splits shared library pages among every process that maps them, so it drops while another \
         WebKit app runs on the machine and rises when it ends; the anonymous memory column (heaps, JS, caches: \
         pages no other program shares) does not, and is the one to read for a leak. Idle after the shift, the app and its \
         WebKit processes used {idle_cpu:.1} % of one core over {} s ({}); after that idle time the summed PSS was \
         {:.0} MB (web process {:.0} MB), anonymous memory {:.0} MB.\n\n",
        warm.done,
        warm.pss,
        last.pss,
        warm.anonymous,
        last.anonymous,
        first.pss,
        growth(first.pss, last.pss),
        idle.as_secs(),
        idle_by.iter().map(|(n, p)| format!("{n} {p:.2} %")).collect::<Vec<_>>().join(", "),
        rested.pss,
        rested.web,
        rested.anonymous
    ));
    body.push_str(
        "| vouchers | time | summed PSS | web process | app process | summed anonymous memory | page elements | rows in the recent list | JS heap |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for s in &samples {
        body.push_str(&format!(
            "| {} | {} | {:.0} MB | {:.0} MB | {:.0} MB | {:.0} MB | {} | {} | {} |\n",
            s.done,
            clock(s.at),
            s.pss,
            s.web,
            s.app,
            s.anonymous,
            s.nodes,
            s.recent,
            s.heap.map_or("n/a (WebKit has no `performance.memory`)".into(), |h| format!("{h:.1} MB"))
        ));
    }
    body.push('\n');

    let out = out_dir();
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("soak.rows.md"), &row).unwrap();
    std::fs::write(out.join("soak.md"), &body).unwrap();
    print!("{row}\n{body}");
}
