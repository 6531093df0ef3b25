/// Every command the UI may call; build.rs turns each into an `allow-…`
/// permission and capabilities/main.json grants them to the main window.
pub const COMMANDS: &[&str] = &[
    "app_info",
    "sign_in",
    "sign_out",
    "create_first_manager",
    "manager_unlock",
    "manager_lock",
    "staff_list",
    "staff_add",
    "staff_change",
    "unknown_list",
    "unknown_recheck",
    "resolve_transaction",
    "refund_voucher",
    "validate_voucher",
    "redeem_voucher",
    "recent_transactions",
    "provider_health",
    "reprint_receipt",
    "credentials_status",
    "set_credentials",
    "telesend_claim",
    "telesend_redeem",
    "telesend_cancel",
    "telesend_denominations",
    "giftpesa_redeem",
    "giftpesa_merchants",
    "giftpesa_import_certificate",
    "giftpesa_settings",
    "pesapal_checkout",
    "pesapal_wait",
    "pesapal_status",
    "pesapal_stop_waiting",
    "pesapal_ipn_list",
    "pesapal_ipn_register",
    "pesapal_ipn_choose",
    "shift_current",
    "shift_open",
    "shift_x_report",
    "shift_close",
    "shift_reprint_z",
    "shift_list",
    "history_page",
    "history_totals",
    "history_daily",
    "transaction_detail",
    "history_export_csv",
    "history_export_pdf",
    "audit_verify",
    "backup_now",
    "payout_corridors",
    "bitpesa_balances",
    "payout_start",
    "payout_refresh",
    "payout_cancel",
    "payout_recent",
];

#[cfg(test)]
mod tests {
    /// capabilities/main.json is written by hand (Tauri reads it as it is):
    /// it must grant exactly the commands above, no more, no fewer.
    #[test]
    fn the_main_window_is_granted_exactly_these_commands() {
        let file = include_str!("../../capabilities/main.json");
        let granted: serde_json::Value = serde_json::from_str(file).unwrap();
        let granted: Vec<&str> =
            granted["permissions"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
        let expected: Vec<String> = super::COMMANDS.iter().map(|c| format!("allow-{}", c.replace('_', "-"))).collect();
        assert_eq!(granted, expected, "update capabilities/main.json to match commands/names.rs");
    }

    fn sorted(mut v: Vec<&str>) -> Vec<&str> {
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The identifiers in `text` that follow `prefix` (letters, digits, `_`).
    fn names_after<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
        text.match_indices(prefix)
            .map(|(at, _)| {
                let rest = &text[at + prefix.len()..];
                &rest[..rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len())]
            })
            .collect()
    }

    /// A grant the UI never uses is attack surface for nothing, and a call
    /// the app does not register fails at the counter: the UI's one door to
    /// the backend (`call` in ui/src/api.ts), the handlers registered in
    /// lib.rs and the list above must name the same commands.
    #[test]
    fn the_ui_calls_exactly_the_granted_commands_and_the_app_registers_them() {
        let granted = sorted(super::COMMANDS.to_vec());
        let api = include_str!("../../../ui/src/api.ts");
        // Every call is written `call('name'` (the test fails, naming the
        // command, if one is written otherwise).
        let called = sorted(names_after(api, "call('"));
        assert_eq!(called, granted, "ui/src/api.ts must call exactly the commands in names.rs");
        let lib = include_str!("../lib.rs");
        let handlers = &lib[lib.find("generate_handler![").expect("lib.rs registers commands")..];
        let handlers = &handlers[..handlers.find("])").unwrap()];
        let registered = sorted(
            handlers
                .split(',')
                .filter_map(|path| path.trim().rsplit("::").next())
                .filter(|n| !n.is_empty() && !n.contains('['))
                .collect(),
        );
        assert_eq!(registered, granted, "lib.rs must register exactly the commands in names.rs");
    }
}
