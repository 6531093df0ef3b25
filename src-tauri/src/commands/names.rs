/// Every command the UI may call; build.rs turns each into an `allow-…`
/// permission and capabilities/main.json grants them to the main window.
pub const COMMANDS: &[&str] = &[
    "app_info",
    "sign_in",
    "sign_out",
    "validate_voucher",
    "redeem_voucher",
    "recent_transactions",
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
];
