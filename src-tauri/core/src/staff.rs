//! Who may work at the till: cashiers and managers, each with a PIN kept
//! only as an argon2id hash. Every attempt, right or wrong, is in the audit
//! log; five wrong PINs in a row lock a name for five minutes (a manager's
//! PIN reset lifts it at once).

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use serde::Serialize;

use crate::FlowError;
use crate::ledger::staff::{Lockout, PinAttempt, StaffRow};
use crate::ledger::{AuditEntry, LedgerError, Outcome};
use crate::till::Till;

pub const LOCKOUT: Lockout = Lockout { attempts: 5, duration: chrono::Duration::minutes(5) };
const MAX_NAME: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Cashier,
    Manager,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Cashier => "cashier",
            Role::Manager => "manager",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = StaffError;
    fn from_str(s: &str) -> Result<Role, StaffError> {
        match s {
            "cashier" => Ok(Role::Cashier),
            "manager" => Ok(Role::Manager),
            _ => Err(StaffError::InvalidRole),
        }
    }
}

/// Someone whose PIN was just accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Staff {
    pub name: String,
    pub role: Role,
}

impl Staff {
    pub fn is_manager(&self) -> bool {
        self.role == Role::Manager
    }
}

/// One row of the staff list a manager sees. No hash ever leaves the ledger.
#[derive(Debug, Clone, Serialize)]
pub struct StaffView {
    pub name: String,
    pub role: Role,
    pub active: bool,
    pub locked_until: Option<String>,
    pub created_at: String,
    pub created_by: String,
}

impl TryFrom<StaffRow> for StaffView {
    type Error = StaffError;
    fn try_from(r: StaffRow) -> Result<StaffView, StaffError> {
        Ok(StaffView {
            role: r.role.parse()?,
            name: r.name,
            active: r.active,
            locked_until: r.locked_until,
            created_at: r.created_at,
            created_by: r.created_by,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StaffError {
    #[error("Type a name of 1 to {MAX_NAME} letters, digits or spaces")]
    InvalidName,
    #[error("A PIN is 4 to 12 digits")]
    InvalidPin,
    #[error("Choose cashier or manager")]
    InvalidRole,
    #[error("That name or PIN is not right. {remaining} more tries before this name is locked for a few minutes.")]
    WrongPin { remaining: u32 },
    #[error("That name or PIN is not right")]
    Unknown,
    #[error("Too many wrong PINs: this name is locked until {until}. A manager can reset the PIN to unlock it now.")]
    Locked { until: String },
    #[error("Only a manager can do this: ask a manager to enter their name and PIN")]
    NotManager,
    #[error("This store has staff already: a manager approves with --manager NAME and KAUNTA_MANAGER_PIN")]
    ApprovalMissing,
    #[error("Someone called {0} already works here")]
    Exists(String),
    #[error("Nobody called {0} works here")]
    NoSuchStaff(String),
    #[error("This store already has its first manager: sign in, or ask a manager to add you")]
    AlreadySetUp,
    #[error("Keep at least one active manager: add or promote another one first")]
    LastManager,
    #[error("Set {0} in the environment to the PIN (never on the command line, where others can read it)")]
    PinMissing(&'static str),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl StaffError {
    pub fn code(&self) -> &'static str {
        match self {
            StaffError::InvalidName => "invalid_name",
            StaffError::InvalidPin => "invalid_pin",
            StaffError::InvalidRole => "invalid_role",
            StaffError::WrongPin { .. } | StaffError::Unknown => "wrong_pin",
            StaffError::Locked { .. } => "pin_locked",
            StaffError::NotManager => "not_manager",
            StaffError::ApprovalMissing => "manager_required",
            StaffError::Exists(_) => "staff_exists",
            StaffError::NoSuchStaff(_) => "no_such_staff",
            StaffError::AlreadySetUp => "already_set_up",
            StaffError::LastManager => "last_manager",
            StaffError::PinMissing(_) => "pin_missing",
            StaffError::Ledger(_) => "ledger",
        }
    }

    pub fn to_public(&self) -> crate::PublicError {
        crate::PublicError { code: self.code().to_string(), message: self.to_string() }
    }
}

/// A PIN as typed. Never printed, never stored: only its hash is.
#[derive(Clone)]
pub struct Pin(String);

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(••••)")
    }
}

impl Pin {
    pub fn parse(s: &str) -> Result<Pin, StaffError> {
        let s = s.trim();
        if !(4..=12).contains(&s.len()) || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(StaffError::InvalidPin);
        }
        Ok(Pin(s.to_string()))
    }

    /// A fresh salt each time; argon2id with the crate's defaults (19 MiB,
    /// two passes), the OWASP minimum, about 30 ms here: slow for a thief
    /// with the file, quick at the counter.
    fn hash(&self) -> String {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(self.0.as_bytes(), &salt).expect("argon2 with default parameters").to_string()
    }

    fn matches(&self, hash: &str) -> bool {
        // A hash that does not parse matches nothing: that person needs a PIN reset.
        PasswordHash::new(hash).is_ok_and(|h| Argon2::default().verify_password(self.0.as_bytes(), &h).is_ok())
    }
}

/// Names as people type them: trimmed, printable, bounded.
pub fn parse_name(s: &str) -> Result<String, StaffError> {
    let name = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() || name.chars().count() > MAX_NAME || name.chars().any(|c| c.is_control()) {
        return Err(StaffError::InvalidName);
    }
    Ok(name)
}

impl Till {
    /// True until the first manager exists: the window then asks for one.
    pub async fn needs_first_manager(&self) -> Result<bool, FlowError> {
        self.db(|l| l.staff_count()).await.map(|n| n == 0)
    }

    pub async fn create_first_manager(&self, name: &str, pin: &str) -> Result<Staff, StaffError> {
        let name = parse_name(name)?;
        let pin = Pin::parse(pin)?;
        let ledger = self.ledger().clone();
        Till::blocking(move || {
            let entry = AuditEntry {
                subject: Some(name.clone()),
                ..AuditEntry::new(&name, "staff_added", Outcome::Success, "first manager of this store")
            };
            if !ledger.add_staff(&name, Role::Manager.as_str(), &pin.hash(), &name, true, &entry)? {
                return Err(StaffError::AlreadySetUp);
            }
            Ok(Staff { name, role: Role::Manager })
        })
        .await
    }

    /// Checks a PIN for signing in (`event` "sign_in"), with the lockout.
    pub async fn check_pin(&self, name: &str, pin: &str, event: &'static str) -> Result<Staff, StaffError> {
        self.attempt(name, pin, event, false).await
    }

    /// A manager's name and PIN, for an action only managers may take.
    pub async fn approve_as_manager(&self, name: &str, pin: &str) -> Result<Staff, StaffError> {
        self.attempt(name, pin, "manager_pin", true).await
    }

    async fn attempt(
        &self,
        name: &str,
        pin: &str,
        event: &'static str,
        manager_only: bool,
    ) -> Result<Staff, StaffError> {
        // A name that cannot be a name is still an attempt, and is logged as one.
        let name = parse_name(name).unwrap_or_default();
        // A malformed PIN is still a wrong attempt: refusing it uncounted would
        // let "12a4" probe names for free, and the count is what guards the PIN.
        let pin = Pin::parse(pin).ok();
        let ledger = self.ledger().clone();
        Till::blocking(move || {
            let attempt = ledger.attempt_pin(&name, event, chrono::Utc::now(), LOCKOUT, manager_only, |hash| {
                pin.as_ref().is_some_and(|p| p.matches(hash))
            })?;
            match attempt {
                PinAttempt::Accepted(row) => Ok(Staff { name: row.name, role: row.role.parse()? }),
                PinAttempt::Rejected { remaining } => Err(StaffError::WrongPin { remaining }),
                PinAttempt::Locked { until } => Err(StaffError::Locked { until: crate::redeem::local_time(&until) }),
                PinAttempt::Unknown => Err(StaffError::Unknown),
                PinAttempt::NotManager => Err(StaffError::NotManager),
            }
        })
        .await
    }

    /// The person as the staff list has them now: None when deactivated or gone.
    pub async fn active_staff(&self, name: &str) -> Result<Option<Staff>, StaffError> {
        let (ledger, name) = (self.ledger().clone(), name.to_string());
        Till::blocking(move || match ledger.staff(&name)? {
            Some(row) if row.active => Ok(Some(Staff { role: row.role.parse()?, name: row.name })),
            _ => Ok(None),
        })
        .await
    }

    pub async fn list_staff(&self) -> Result<Vec<StaffView>, StaffError> {
        let ledger = self.ledger().clone();
        Till::blocking(move || ledger.list_staff()?.into_iter().map(StaffView::try_from).collect()).await
    }

    pub async fn add_staff(&self, by: &Staff, name: &str, role: Role, pin: &str) -> Result<StaffView, StaffError> {
        require_manager(by)?;
        let name = parse_name(name)?;
        let pin = Pin::parse(pin)?;
        let (ledger, by) = (self.ledger().clone(), by.name.clone());
        Till::blocking(move || {
            let entry = AuditEntry {
                subject: Some(name.clone()),
                ..AuditEntry::new(&by, "staff_added", Outcome::Success, format!("{} added as {}", name, role.as_str()))
            };
            if !ledger.add_staff(&name, role.as_str(), &pin.hash(), &by, false, &entry)? {
                return Err(StaffError::Exists(name));
            }
            let row =
                ledger.staff(&name)?.ok_or_else(|| StaffError::NoSuchStaff(crate::text::excerpt(&name, MAX_NAME)))?;
            StaffView::try_from(row)
        })
        .await
    }

    /// A new PIN (which also lifts a lock), a new role, or (de)activation.
    pub async fn change_staff(&self, by: &Staff, name: &str, change: StaffChange) -> Result<StaffView, StaffError> {
        require_manager(by)?;
        let pin = change.pin.as_deref().map(Pin::parse).transpose()?;
        let (ledger, by, name) = (self.ledger().clone(), by.name.clone(), name.to_string());
        Till::blocking(move || {
            let row =
                ledger.staff(&name)?.ok_or_else(|| StaffError::NoSuchStaff(crate::text::excerpt(&name, MAX_NAME)))?;
            let mut what = Vec::new();
            if pin.is_some() {
                what.push("PIN reset".to_string());
            }
            if let Some(role) = change.role {
                what.push(format!("role {}", role.as_str()));
            }
            if let Some(active) = change.active {
                what.push(if active { "reactivated" } else { "deactivated" }.to_string());
            }
            let entry = AuditEntry {
                subject: Some(row.name.clone()),
                ..AuditEntry::new(&by, "staff_changed", Outcome::Success, format!("{}: {}", row.name, what.join(", ")))
            };
            let hash = pin.map(|p| p.hash());
            match ledger.update_staff(&row.name, hash.as_deref(), change.role.map(Role::as_str), change.active, &entry)
            {
                Err(LedgerError::NoManagerLeft) => return Err(StaffError::LastManager),
                other => other?,
            };
            let row = ledger
                .staff(&row.name)?
                .ok_or_else(|| StaffError::NoSuchStaff(crate::text::excerpt(&name, MAX_NAME)))?;
            StaffView::try_from(row)
        })
        .await
    }
}

#[derive(Debug, Default, Clone)]
pub struct StaffChange {
    pub pin: Option<String>,
    pub role: Option<Role>,
    pub active: Option<bool>,
}

fn require_manager(by: &Staff) -> Result<(), StaffError> {
    if by.is_manager() { Ok(()) } else { Err(StaffError::NotManager) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_are_four_to_twelve_digits_and_never_printed() {
        for bad in ["", "123", "12a4", "1234567890123", "１２３４"] {
            assert!(Pin::parse(bad).is_err(), "{bad:?}");
        }
        let pin = Pin::parse(" 4821 ").unwrap();
        assert_eq!(format!("{pin:?}"), "Pin(••••)");
    }

    #[test]
    fn a_hash_matches_its_pin_only_and_is_salted() {
        let pin = Pin::parse("4821").unwrap();
        let (a, b) = (pin.hash(), pin.hash());
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "each hash has its own salt");
        assert!(pin.matches(&a) && pin.matches(&b));
        assert!(!Pin::parse("4822").unwrap().matches(&a));
        assert!(!pin.matches("not a hash"));
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(parse_name("  Amina   Odhiambo ").unwrap(), "Amina Odhiambo");
        assert!(parse_name("   ").is_err());
        assert!(parse_name(&"x".repeat(65)).is_err());
        assert!(parse_name("a\u{7}b").is_err());
    }
}
