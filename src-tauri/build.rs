fn main() {
    // Declaring the app's commands makes each one a permission: a window can
    // call only what its capability grants (capabilities/main.json), and a
    // window with no capability (a remote checkout page) can call nothing.
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(kaunta_commands::COMMANDS)),
    )
    .expect("tauri build script");
}

#[path = "src/commands/names.rs"]
mod kaunta_commands;
