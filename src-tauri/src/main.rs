// No console window on Windows release builds; Linux is unaffected.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = kaunta_lib::cli::Cli::parse();
    kaunta_lib::cli::main(cli)
}
