// No console window on Windows release builds; Linux is unaffected.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use clap::Parser;

fn main() -> std::process::ExitCode {
    #[cfg(target_os = "linux")]
    paint_on_the_cpu();
    let cli = kaunta_lib::cli::Cli::parse();
    kaunta_lib::cli::main(cli)
}

/// WebKitGTK paints the page's tiles with Skia on the CPU instead of through
/// GL; compositing stays accelerated (unlike `WEBKIT_DISABLE_COMPOSITING_MODE`
/// or hardware acceleration off, which made the screen 2.5 times slower).
/// Measured on a machine without a GPU, where GL is Mesa's software renderer:
/// the web process 45 MB smaller after sign-in, the window tests and the
/// soak's vouchers a second no slower (docs/BENCHMARKS.md, launch and soak).
/// The web process reads the variable when WebKit starts it, so it is set
/// here, before anything else runs; a value already set (e.g. `0` on a till
/// whose GPU paints faster) is left as it is.
#[cfg(target_os = "linux")]
fn paint_on_the_cpu() {
    const CPU_RENDERING: &str = "WEBKIT_SKIA_ENABLE_CPU_RENDERING";
    if std::env::var_os(CPU_RENDERING).is_none() {
        // SAFETY: the first thing main does, before any other thread exists,
        // so nothing reads the environment while it changes.
        unsafe { std::env::set_var(CPU_RENDERING, "1") };
    }
}
