// No console window on Windows release builds; Linux is unaffected.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use clap::Parser;

fn main() -> std::process::ExitCode {
    quiet_webkit_compositing();
    let cli = kaunta_lib::cli::Cli::parse();
    kaunta_lib::cli::main(cli)
}

/// WebKitGTK's accelerated compositing runs Mesa's software GL in the web
/// process on a till without a GPU: about 100 MB of the window's memory for
/// a screen with no 3D or heavy animation (docs/BENCHMARKS.md measured 330
/// MB summed PSS with it, 232 MB without; the budget is 300). Set before GTK
/// or any thread starts, and only when the person has not chosen otherwise.
fn quiet_webkit_compositing() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() {
        // SAFETY: the first statement of main, before any thread exists.
        unsafe { std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1") };
    }
}
