//! Crash points for the kill -9 tests (issue 7, tests/crash.rs): a point in
//! the code no outside observer can stop a process at, such as inside the
//! open SQLite transaction that writes an intent. With `KAUNTA_CRASH_AT`
//! naming a point, the process sends itself SIGKILL there: no destructor, no
//! rollback, no flush runs, exactly as when the power goes.
//!
//! Points: `intent_uncommitted` (the intent and its audit row written, not
//! committed) and `outcome_uncommitted` (a provider's answer in hand, its
//! outcome written, not committed). Unset, a point costs one environment read.

/// The environment variable that names the point to crash at.
pub const ENV: &str = "KAUNTA_CRASH_AT";

/// Kills this process with SIGKILL when `KAUNTA_CRASH_AT` is `name`.
pub fn point(name: &str) {
    if std::env::var_os(ENV).is_none_or(|v| v != name) {
        return;
    }
    #[cfg(unix)]
    {
        // No libc in the dependencies: the system's `kill` sends the signal.
        let pid = std::process::id().to_string();
        let _ = std::process::Command::new("kill").args(["-9", &pid]).status();
        // The signal may land a moment after `kill` returns: nothing after
        // the point may run meanwhile.
        loop {
            std::thread::park();
        }
    }
    #[cfg(not(unix))]
    std::process::abort();
}
