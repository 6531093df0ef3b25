//! Shared by the benchmarks (not tests: nothing here asserts a time):
//! samples and their percentiles, scratch directories on the disk the app
//! uses, and the Markdown each benchmark leaves for `scripts/bench` to put
//! into docs/BENCHMARKS.md.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Timings of one operation, in the order they were taken.
#[derive(Default, Clone)]
pub struct Samples(Vec<Duration>);

impl Samples {
    pub fn with_capacity(n: usize) -> Samples {
        Samples(Vec::with_capacity(n))
    }

    pub fn push(&mut self, d: Duration) {
        self.0.push(d);
    }

    /// Runs `f`, records its duration and returns its result.
    pub fn time<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = f();
        self.0.push(start.elapsed());
        out
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Nearest-rank percentile: the smallest sample with at least `q` of
    /// the samples at or below it (q = 0.99 over 2,000 samples is the 1,980th).
    pub fn quantile(&self, q: f64) -> Duration {
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    pub fn p50(&self) -> Duration {
        self.quantile(0.50)
    }

    pub fn p99(&self) -> Duration {
        self.quantile(0.99)
    }

    pub fn max(&self) -> Duration {
        self.0.iter().copied().max().unwrap_or_default()
    }

    pub fn min(&self) -> Duration {
        self.0.iter().copied().min().unwrap_or_default()
    }

    pub fn mean(&self) -> Duration {
        self.0.iter().sum::<Duration>() / self.0.len().max(1) as u32
    }

    /// "p50 1.23 ms, p99 4.56 ms (max 7.89 ms, n = 2000)".
    pub fn summary(&self) -> String {
        format!(
            "p50 {}, p99 {} (min {}, max {}, n = {})",
            ms(self.p50()),
            ms(self.p99()),
            ms(self.min()),
            ms(self.max()),
            self.len()
        )
    }
}

/// A duration in milliseconds, with precision where it matters.
pub fn ms(d: Duration) -> String {
    let v = d.as_secs_f64() * 1e3;
    if v < 1.0 {
        format!("{v:.3} ms")
    } else if v < 100.0 {
        format!("{v:.2} ms")
    } else {
        format!("{v:.0} ms")
    }
}

pub fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// Seconds to the millisecond, for figures judged against a budget in seconds.
pub fn secs3(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// Runs the same timed loop `n` times after `warmup` untimed rounds.
pub fn sample(warmup: usize, n: usize, mut f: impl FnMut(usize)) -> Samples {
    for i in 0..warmup {
        f(i);
    }
    let mut s = Samples::with_capacity(n);
    for i in 0..n {
        s.time(|| f(warmup + i));
    }
    s
}

/// A count from the environment (e.g. `KAUNTA_BENCH_REDEMPTIONS=500` for a
/// quick look), or the default the report is meant to be read with.
pub fn count(var: &str, default: usize) -> usize {
    std::env::var(var).ok().and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(default)
}

/// CPU time this process has used so far, every thread, user and system
/// (Linux `/proc/self/stat`, in clock ticks of 10 ms): what a measurement
/// cost whatever else the machine was running.
pub fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) end with ')'.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line: 11 and 12 after the name (state is field 3).
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    let ticks = field(11) + field(12);
    Duration::from_millis(ticks * 10)
}

/// A scratch directory on the disk the app's data directory lives on
/// (`KAUNTA_BENCH_TMP`, else the workspace's target/), never tmpfs: an
/// fsync that costs nothing would flatter every commit.
pub fn scratch_dir() -> tempfile::TempDir {
    let base = std::env::var_os("KAUNTA_BENCH_TMP")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-tmp"));
    std::fs::create_dir_all(&base).expect("a scratch directory for the benchmark");
    tempfile::tempdir_in(&base).expect("a scratch directory for the benchmark")
}

/// Prints progress where a person running the benchmark sees it.
pub fn progress(msg: impl AsRef<str>) {
    eprintln!("  .. {}", msg.as_ref());
}

/// What one benchmark found: rows for the summary table (figure beside its
/// budget) and a section of details. Written to `$KAUNTA_BENCH_OUT/<name>.rows.md`
/// and `<name>.md` for `scripts/bench`, and printed.
pub struct Report {
    name: &'static str,
    rows: String,
    body: String,
}

impl Report {
    pub fn new(name: &'static str, title: &str) -> Report {
        Report { name, rows: String::new(), body: format!("## {title}\n\n") }
    }

    /// A summary row. `met` is `None` for a figure that has no budget of its own.
    pub fn row(&mut self, what: &str, figure: &str, budget: &str, met: Option<bool>) {
        let verdict = match met {
            Some(true) => "meets",
            Some(false) => "**misses**",
            None => "(context)",
        };
        let _ = writeln!(self.rows, "| {what} | {figure} | {budget} | {verdict} |");
    }

    /// A paragraph (or any block of Markdown) of the details section.
    pub fn para(&mut self, text: impl AsRef<str>) {
        self.body.push_str(text.as_ref().trim_end());
        self.body.push_str("\n\n");
    }

    /// A Markdown table from a header and rows of cells.
    pub fn table(&mut self, header: &[&str], rows: &[Vec<String>]) {
        let mut t = format!("| {} |\n|{}\n", header.join(" | "), " --- |".repeat(header.len()));
        for r in rows {
            let _ = writeln!(t, "| {} |", r.join(" | "));
        }
        self.para(t);
    }

    pub fn code(&mut self, text: impl AsRef<str>) {
        self.para(format!("```\n{}\n```", text.as_ref().trim_end()));
    }

    pub fn finish(self) {
        let dir = std::env::var_os("KAUNTA_BENCH_OUT")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench"));
        std::fs::create_dir_all(&dir).expect("the benchmark output directory");
        std::fs::write(dir.join(format!("{}.rows.md", self.name)), &self.rows).expect("write the summary rows");
        std::fs::write(dir.join(format!("{}.md", self.name)), &self.body).expect("write the details");
        println!("{}{}", self.rows, self.body);
    }
}
