//! Values a provider hands back that the till must keep across restarts
//! (Pesapal's IPN id), per environment. Never secrets: those live in the
//! keyring.

use rusqlite::{OptionalExtension, params};

use super::audit::{self, AuditEntry};
use super::{Ledger, LedgerError, now_text};

impl Ledger {
    pub fn setting(&self, provider: &str, environment: &str, key: &str) -> Result<Option<String>, LedgerError> {
        Ok(self
            .conn()
            .query_row(
                "SELECT value FROM provider_settings WHERE provider = ?1 AND environment = ?2 AND key = ?3",
                params![provider, environment, key],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Stores a setting together with the audit row describing the change.
    pub fn set_setting(
        &self,
        provider: &str,
        environment: &str,
        key: &str,
        value: &str,
        audit: &AuditEntry,
    ) -> Result<(), LedgerError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO provider_settings (provider, environment, key, value, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (provider, environment, key) DO UPDATE SET value = ?4, updated_at = ?5",
                params![provider, environment, key, value, now_text()],
            )?;
            audit::append(tx, &self.till_id, audit)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::ledger::{AuditEntry, Outcome};

    #[test]
    fn a_setting_is_kept_per_environment_and_audited() {
        let (_dir, ledger) = crate::ledger::tests::ledger();
        let note = AuditEntry::new("njeri", "settings_changed", Outcome::Success, "IPN chosen");
        ledger.set_setting("pesapal", "sandbox", "ipn_id", "abc", &note).unwrap();
        ledger.set_setting("pesapal", "sandbox", "ipn_id", "def", &note).unwrap();
        assert_eq!(ledger.setting("pesapal", "sandbox", "ipn_id").unwrap().as_deref(), Some("def"));
        assert_eq!(ledger.setting("pesapal", "live", "ipn_id").unwrap(), None);
        assert_eq!(ledger.verify_audit(|_| {}).unwrap().rows, 2);
    }
}
