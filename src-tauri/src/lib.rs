//! The desktop shell: builds the Tauri app around a `Till` from the core.
//! Commands are thin adapters in `commands/`; headless mode is in `cli`.

pub mod checkout;
pub mod cli;
pub mod commands;
mod state;

use std::path::Path;
use std::process::ExitCode;

use kaunta_core::redeem::reconcile::{self, Reconciler};
use kaunta_core::{Till, TillOptions};
pub use state::AppState;
use tauri::{Manager, Runtime};

/// Registers state and commands. Generic over the runtime so the command
/// tests run the same handlers on Tauri's mock runtime.
pub fn setup<R: Runtime>(builder: tauri::Builder<R>, state: AppState) -> tauri::Builder<R> {
    builder.manage(state).invoke_handler(tauri::generate_handler![
        commands::session::app_info,
        commands::session::sign_in,
        commands::session::sign_out,
        commands::session::create_first_manager,
        commands::session::manager_unlock,
        commands::session::manager_lock,
        commands::staff::staff_list,
        commands::staff::staff_add,
        commands::staff::staff_change,
        commands::backoffice::unknown_list,
        commands::backoffice::unknown_recheck,
        commands::backoffice::resolve_transaction,
        commands::backoffice::refund_voucher,
        commands::cashier::validate_voucher,
        commands::cashier::redeem_voucher,
        commands::cashier::recent_transactions,
        commands::health::provider_health,
        commands::cashier::reprint_receipt,
        commands::settings::credentials_status,
        commands::settings::set_credentials,
        commands::telesend::telesend_claim,
        commands::telesend::telesend_redeem,
        commands::telesend::telesend_cancel,
        commands::telesend::telesend_denominations,
        commands::giftpesa::giftpesa_redeem,
        commands::giftpesa::giftpesa_merchants,
        commands::giftpesa::giftpesa_import_certificate,
        commands::giftpesa::giftpesa_settings,
        commands::pesapal::pesapal_checkout,
        commands::pesapal::pesapal_wait,
        commands::pesapal::pesapal_status,
        commands::pesapal::pesapal_stop_waiting,
        commands::pesapal::pesapal_ipn_list,
        commands::pesapal::pesapal_ipn_register,
        commands::pesapal::pesapal_ipn_choose,
        commands::shifts::shift_current,
        commands::shifts::shift_open,
        commands::shifts::shift_x_report,
        commands::shifts::shift_close,
        commands::shifts::shift_reprint_z,
        commands::shifts::shift_list,
        commands::history::history_page,
        commands::history::history_totals,
        commands::history::history_daily,
        commands::history::transaction_detail,
        commands::history::history_export_csv,
        commands::history::history_export_pdf,
        commands::history::audit_verify,
        commands::backup::backup_now,
        commands::payouts::payout_corridors,
        commands::payouts::bitpesa_balances,
        commands::payouts::payout_start,
        commands::payouts::payout_refresh,
        commands::payouts::payout_cancel,
        commands::payouts::payout_recent,
    ])
}

/// Opens the cashier window on the till in `data_dir`.
pub fn run_window(data_dir: &Path) -> ExitCode {
    let till = match tauri::async_runtime::block_on(Till::open(data_dir, TillOptions::default())) {
        Ok(till) => till,
        Err(e) => {
            eprintln!("kaunta: {e}");
            return ExitCode::from(cli::EXIT_USAGE);
        }
    };
    let state = AppState::new(till);
    let result = setup(tauri::Builder::default(), state)
        .setup(|app| {
            // Settle what a crash left behind without delaying the first paint,
            // then keep settling what this process leaves open while it runs
            // (an order paid after the cashier stopped waiting, an outcome the
            // disk refused), rather than waiting for the next start.
            let state = app.state::<AppState>().inner().clone();
            tauri::async_runtime::spawn(async move {
                if let Err(e) = state.till.recover("system").await {
                    eprintln!("kaunta: recovery after start-up failed: {e}");
                }
                Reconciler::new().run(state.till.clone(), reconcile::EVERY).await;
            });
            Ok(())
        })
        .run(tauri::generate_context!());
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kaunta: the window could not open: {e}");
            ExitCode::FAILURE
        }
    }
}
