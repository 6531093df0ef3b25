//! The fuzz targets (fuzz/, issue 7), run briefly as a stable test: every
//! target's entry point over its whole seed corpus (fuzz/corpus/<target>),
//! every regression input kept in fuzz/regressions/<target> (and any crash
//! libFuzzer left in fuzz/artifacts/<target> on this machine), then a few
//! thousand deterministic mutations of the seeds. The entry points are the
//! ones the fuzz targets call, so a failure here is a fuzz finding: the
//! parser panicked or showed a cashier something that is not plain words.
//! Longer, coverage-guided runs: scripts/fuzz.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::Once;

use kaunta_core::fuzzing;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 7] = [
    ("pesavoucher", fuzzing::pesavoucher),
    ("telesend", fuzzing::telesend),
    ("giftpesa", fuzzing::giftpesa),
    ("pesapal", fuzzing::pesapal),
    ("bitpesa", fuzzing::bitpesa),
    ("bitpesa_webhook", fuzzing::bitpesa_webhook),
    ("money", fuzzing::money),
];

/// Mutations per target: enough to reach past the seeds' happy paths,
/// few enough for a debug build to finish in seconds.
const MUTATIONS: u32 = 600;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

/// Every file under `fuzz/<kind>/<target>`, sorted so a failure names the same file each run.
fn inputs(kind: &str, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(dir) = std::fs::read_dir(fuzz_dir().join(kind).join(target)) else { return Vec::new() };
    let mut files: Vec<PathBuf> = dir.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    files.sort();
    files.into_iter().map(|p| (p.clone(), std::fs::read(&p).unwrap())).collect()
}

thread_local! {
    static RUNNING_TARGET: Cell<bool> = const { Cell::new(false) };
}

/// Runs one input, turning the target's panic into its message. Panics
/// inside a target are not printed: shrinking a failure panics hundreds of
/// times, and the message that counts is the one returned here.
fn check(run: Target, data: &[u8]) -> Result<(), String> {
    static QUIET: Once = Once::new();
    QUIET.call_once(|| {
        let print = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !RUNNING_TARGET.with(Cell::get) {
                print(info)
            }
        }));
    });
    RUNNING_TARGET.with(|r| r.set(true));
    let outcome = std::panic::catch_unwind(|| run(data));
    RUNNING_TARGET.with(|r| r.set(false));
    outcome.map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic without a message".into())
    })
}

fn replay(target: &str, run: Target, files: &[(PathBuf, Vec<u8>)]) {
    for (path, data) in files {
        if let Err(why) = check(run, data) {
            panic!("{target}: {} fails: {why}\nreproduce: cargo fuzz run {target} {0}", path.display());
        }
    }
}

#[test]
fn every_seed_and_regression_passes_its_target() {
    for (target, run) in TARGETS {
        let seeds = inputs("corpus", target);
        assert!(seeds.len() >= 10, "{target}: only {} seeds in fuzz/corpus/{target}", seeds.len());
        replay(target, run, &seeds);
        replay(target, run, &inputs("regressions", target));
        replay(target, run, &inputs("artifacts", target));
    }
}

/// Pieces that break parsers: JSON structure, markup, numbers at the edges
/// of what an f64 or an i64 holds, control characters, long text.
const TOKENS: &[&str] = &[
    "\"",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "null",
    "true",
    "-",
    ".",
    "0",
    "e9",
    "1e400",
    "-0.0",
    "9223372036854775807",
    "18446744073709551616",
    "0.30000000000000004",
    "\"\\u0000\"",
    "\\n",
    "\n",
    "<html><body>",
    "\u{202e}",
    "\u{7}",
];

#[derive(Debug, Clone)]
enum Edit {
    Insert {
        at: usize,
        token: usize,
    },
    Delete {
        at: usize,
        len: usize,
    },
    Byte {
        at: usize,
        value: u8,
    },
    /// A run of one character: very long provider words.
    Repeat {
        at: usize,
        value: u8,
        len: usize,
    },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(at, token)| Edit::Insert { at, token }),
        (any::<usize>(), 1usize..16).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, value)| Edit::Byte { at, value }),
        (any::<usize>(), any::<u8>(), 100usize..1200).prop_map(|(at, value, len)| Edit::Repeat { at, value, len }),
    ]
}

fn apply(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for e in edits {
        let pos = |at: usize, len: usize| if len == 0 { 0 } else { at % (len + 1) };
        match *e {
            Edit::Insert { at, token } => {
                let at = pos(at, data.len());
                data.splice(at..at, TOKENS[token].bytes());
            }
            Edit::Delete { at, len } => {
                let at = pos(at, data.len());
                data.drain(at..(at + len).min(data.len()));
            }
            Edit::Byte { at, value } if !data.is_empty() => {
                let at = at % data.len();
                data[at] = value;
            }
            Edit::Byte { .. } => data.push(0),
            Edit::Repeat { at, value, len } => {
                let at = pos(at, data.len());
                data.splice(at..at, std::iter::repeat_n(value, len));
            }
        }
    }
    data
}

#[test]
fn mutated_seeds_pass_their_targets() {
    for (target, run) in TARGETS {
        let seeds: Vec<Vec<u8>> = inputs("corpus", target).into_iter().map(|(_, d)| d).collect();
        let config = Config { cases: MUTATIONS, failure_persistence: None, ..Config::default() };
        // The same inputs every run: a failure is reproducible, not luck.
        let mut runner = TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
        let strategy = (0..seeds.len(), prop::collection::vec(edit(), 1..6));
        let outcome = runner.run(&strategy, |(seed, edits)| {
            let data = apply(&seeds[seed], &edits);
            if let Err(why) = check(run, &data) {
                // Kept as a file: copy it to fuzz/regressions/<target> once fixed.
                let kept = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fuzz-replay-{target}"));
                std::fs::write(&kept, &data).unwrap();
                return Err(TestCaseError::fail(format!("{why}\n(input saved as {})", kept.display())));
            }
            Ok(())
        });
        if let Err(e) = outcome {
            panic!("{target}: {e}");
        }
    }
}
