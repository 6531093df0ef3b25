//! Staff rows and the PIN lockout counters. A PIN attempt is counted in
//! one short immediate transaction *before* the hash is checked (so two
//! tills guessing at once cannot both slip under the limit), the slow
//! argon2 check runs outside any transaction (so it never holds SQLite's
//! write lock while redemptions wait), and a second transaction records the
//! outcome with its audit row. A crash in between leaves the attempt
//! counted: the safe direction.

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use super::audit::{self, AuditEntry, Outcome};
use super::{Ledger, LedgerError, now_text};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffRow {
    pub name: String,
    pub role: String,
    pub active: bool,
    pub failed_attempts: i64,
    pub locked_until: Option<String>,
    pub created_at: String,
    pub created_by: String,
}

/// What one PIN attempt came to, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinAttempt {
    Accepted(StaffRow),
    /// Wrong PIN; `remaining` more before the lock.
    Rejected {
        remaining: u32,
    },
    /// Locked now (by this attempt or an earlier one) until the time given.
    Locked {
        until: String,
    },
    /// No such name, or deactivated. (Names are not secret at a store: the
    /// staff list is on the manager's screen; the PIN is what is guarded.)
    Unknown,
    /// The PIN was right, but a manager's approval was asked and this person is not one.
    NotManager,
}

/// How many wrong PINs in a row lock a name, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Lockout {
    pub attempts: u32,
    pub duration: chrono::Duration,
}

const SELECT_STAFF: &str =
    "SELECT name, role, active, failed_attempts, locked_until, created_at, created_by FROM staff";

fn read_staff(r: &Row<'_>) -> rusqlite::Result<StaffRow> {
    Ok(StaffRow {
        name: r.get(0)?,
        role: r.get(1)?,
        active: r.get::<_, i64>(2)? == 1,
        failed_attempts: r.get(3)?,
        locked_until: r.get(4)?,
        created_at: r.get(5)?,
        created_by: r.get(6)?,
    })
}

fn find(conn: &rusqlite::Connection, name: &str) -> Result<Option<(StaffRow, String)>, LedgerError> {
    Ok(conn
        .query_row(
            "SELECT name, role, active, failed_attempts, locked_until, created_at, created_by, pin_hash
             FROM staff WHERE name = ?1",
            [name],
            |r| Ok((read_staff(r)?, r.get(7)?)),
        )
        .optional()?)
}

impl Ledger {
    pub fn staff_count(&self) -> Result<i64, LedgerError> {
        Ok(self.conn().query_row("SELECT COUNT(*) FROM staff", [], |r| r.get(0))?)
    }

    pub fn staff(&self, name: &str) -> Result<Option<StaffRow>, LedgerError> {
        Ok(find(&self.conn(), name)?.map(|(row, _)| row))
    }

    pub fn list_staff(&self) -> Result<Vec<StaffRow>, LedgerError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("{SELECT_STAFF} ORDER BY active DESC, name COLLATE NOCASE"))?;
        let rows = stmt.query_map([], read_staff)?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Adds a person. With `only_if_empty`, refuses (returns false) when anyone
    /// exists already: the first manager is created without approval, once,
    /// even if two windows race to do it.
    pub fn add_staff(
        &self,
        name: &str,
        role: &str,
        pin_hash: &str,
        created_by: &str,
        only_if_empty: bool,
        audit: &AuditEntry,
    ) -> Result<bool, LedgerError> {
        self.write(|tx| {
            if only_if_empty {
                let n: i64 = tx.query_row("SELECT COUNT(*) FROM staff", [], |r| r.get(0))?;
                if n > 0 {
                    return Ok(false);
                }
            }
            let now = now_text();
            let inserted = tx.execute(
                "INSERT INTO staff (name, role, pin_hash, created_at, created_by, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?4) ON CONFLICT (name) DO NOTHING",
                params![name, role, pin_hash, now, created_by],
            )?;
            if inserted == 1 {
                audit::append(tx, &self.till_id, audit)?;
            }
            Ok(inserted == 1)
        })
    }

    /// Changes a person's PIN, role or active flag (None leaves it) and
    /// records `audit` with it. A new PIN also lifts a lock; nothing else
    /// does. Refused (rolled back) when it would leave no active manager,
    /// checked inside the same transaction so two tills demoting each other
    /// at once cannot both succeed. False when there is no such name.
    pub fn update_staff(
        &self,
        name: &str,
        pin_hash: Option<&str>,
        role: Option<&str>,
        active: Option<bool>,
        audit: &AuditEntry,
    ) -> Result<bool, LedgerError> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE staff SET pin_hash = COALESCE(?2, pin_hash), role = COALESCE(?3, role),
                    active = COALESCE(?4, active), updated_at = ?5,
                    failed_attempts = CASE WHEN ?2 IS NULL THEN failed_attempts ELSE 0 END,
                    locked_until = CASE WHEN ?2 IS NULL THEN locked_until ELSE NULL END
                 WHERE name = ?1",
                params![name, pin_hash, role, active.map(i64::from), now_text()],
            )?;
            if changed == 0 {
                return Ok(false);
            }
            let managers: i64 =
                tx.query_row("SELECT COUNT(*) FROM staff WHERE role = 'manager' AND active = 1", [], |r| r.get(0))?;
            if managers == 0 {
                return Err(LedgerError::NoManagerLeft);
            }
            audit::append(tx, &self.till_id, audit)?;
            Ok(true)
        })
    }

    /// One PIN attempt for `name`: refused unchecked while locked; otherwise
    /// counted, then `check(pin_hash)` decides outside any transaction, and
    /// the outcome is recorded (event `event`). With `manager_only`, a right
    /// PIN of a cashier is refused as `NotManager`.
    pub fn attempt_pin(
        &self,
        name: &str,
        event: &'static str,
        now: DateTime<Utc>,
        lockout: Lockout,
        manager_only: bool,
        check: impl FnOnce(&str) -> bool,
    ) -> Result<PinAttempt, LedgerError> {
        enum Counted {
            Done(PinAttempt),
            Check { row: StaffRow, hash: String, failures: i64, locked_until: Option<String> },
        }
        let counted = self.write(|tx| {
            let Some((row, hash)) = find(tx, name)?.filter(|(row, _)| row.active) else {
                // Never the typed text: a PIN typed into the name field must not
                // land in a log that cannot be edited.
                let entry = AuditEntry {
                    subject: Some(typed_name_hint(name)),
                    ..AuditEntry::new("unknown", event, Outcome::Failure, "no active staff member by that name")
                };
                audit::append(tx, &self.till_id, &entry)?;
                return Ok(Counted::Done(PinAttempt::Unknown));
            };
            let locked = row
                .locked_until
                .as_deref()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .filter(|until| *until > now);
            if let Some(until) = locked {
                let entry = AuditEntry::new(&row.name, event, Outcome::Failure, "refused: locked after wrong PINs");
                audit::append(tx, &self.till_id, &entry)?;
                return Ok(Counted::Done(PinAttempt::Locked { until: until.with_timezone(&Utc).to_rfc3339() }));
            }
            let failures = row.failed_attempts + 1;
            let locked_until = (failures >= i64::from(lockout.attempts))
                .then(|| (now + lockout.duration).to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
            tx.execute(
                "UPDATE staff SET failed_attempts = ?2, locked_until = ?3 WHERE name = ?1",
                params![row.name, if locked_until.is_some() { 0 } else { failures }, locked_until],
            )?;
            Ok(Counted::Check { row, hash, failures, locked_until })
        })?;
        let (row, hash, failures, locked_until) = match counted {
            Counted::Done(attempt) => return Ok(attempt),
            Counted::Check { row, hash, failures, locked_until } => (row, hash, failures, locked_until),
        };
        let right = check(&hash);
        self.write(|tx| {
            if right {
                tx.execute("UPDATE staff SET failed_attempts = 0, locked_until = NULL WHERE name = ?1", [&row.name])?;
                if manager_only && row.role != "manager" {
                    let entry =
                        AuditEntry::new(&row.name, event, Outcome::Failure, "refused: PIN right, but not a manager");
                    audit::append(tx, &self.till_id, &entry)?;
                    return Ok(PinAttempt::NotManager);
                }
                let entry = AuditEntry::new(&row.name, event, Outcome::Success, format!("PIN accepted ({})", row.role));
                audit::append(tx, &self.till_id, &entry)?;
                return Ok(PinAttempt::Accepted(StaffRow { failed_attempts: 0, locked_until: None, ..row }));
            }
            let details = match &locked_until {
                Some(until) => format!("wrong PIN ({failures} in a row): locked until {until}"),
                None => format!("wrong PIN ({failures} in a row)"),
            };
            audit::append(tx, &self.till_id, &AuditEntry::new(&row.name, event, Outcome::Failure, details))?;
            Ok(match locked_until {
                Some(until) => PinAttempt::Locked { until },
                None => PinAttempt::Rejected { remaining: (i64::from(lockout.attempts) - failures) as u32 },
            })
        })
    }
}

/// What an unknown name looked like, without what was typed: its length and
/// whether it was all digits (a PIN in the wrong field).
fn typed_name_hint(name: &str) -> String {
    let n = name.chars().count();
    if name.chars().all(|c| c.is_ascii_digit()) {
        format!("{n} digits (not kept: a PIN typed as a name?)")
    } else {
        format!("{n} characters (not kept)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCKOUT: Lockout = Lockout { attempts: 3, duration: chrono::Duration::minutes(5) };

    fn add(ledger: &Ledger, name: &str, role: &str) {
        let entry = AuditEntry::new("setup", "staff_added", Outcome::Success, name.to_string());
        assert!(ledger.add_staff(name, role, "hash-of-1234", "setup", false, &entry).unwrap());
    }

    fn attempt(ledger: &Ledger, name: &str, right: bool, now: DateTime<Utc>) -> PinAttempt {
        ledger.attempt_pin(name, "sign_in", now, LOCKOUT, false, |hash| right && hash == "hash-of-1234").unwrap()
    }

    #[test]
    fn the_first_manager_is_created_once() {
        let (_dir, ledger) = crate::ledger::tests::ledger();
        let entry = AuditEntry::new("amina", "staff_added", Outcome::Success, "first manager");
        assert!(ledger.add_staff("Amina", "manager", "h", "amina", true, &entry).unwrap());
        assert!(!ledger.add_staff("Baraka", "manager", "h", "baraka", true, &entry).unwrap());
        assert_eq!(ledger.staff_count().unwrap(), 1);
        // Names are one person in any case.
        assert!(!ledger.add_staff("AMINA", "cashier", "h", "amina", false, &entry).unwrap());
        assert_eq!(ledger.staff("amina").unwrap().unwrap().name, "Amina");
    }

    #[test]
    fn wrong_pins_lock_the_name_and_the_lock_expires() {
        let (_dir, ledger) = crate::ledger::tests::ledger();
        add(&ledger, "Juma", "cashier");
        let t0 = Utc::now();
        assert_eq!(attempt(&ledger, "Juma", false, t0), PinAttempt::Rejected { remaining: 2 });
        assert_eq!(attempt(&ledger, "juma", false, t0), PinAttempt::Rejected { remaining: 1 });
        assert!(matches!(attempt(&ledger, "Juma", false, t0), PinAttempt::Locked { .. }));
        // Locked: even the right PIN is refused, without being checked.
        let refused = ledger
            .attempt_pin("Juma", "sign_in", t0 + chrono::Duration::minutes(4), LOCKOUT, false, |_| panic!("checked"))
            .unwrap();
        assert!(matches!(refused, PinAttempt::Locked { .. }));
        // After the lock: the right PIN works and the counter starts again.
        let later = t0 + chrono::Duration::minutes(6);
        assert!(matches!(attempt(&ledger, "Juma", true, later), PinAttempt::Accepted(_)));
        assert_eq!(attempt(&ledger, "Juma", false, later), PinAttempt::Rejected { remaining: 2 });
    }

    #[test]
    fn a_right_pin_resets_the_count_and_every_attempt_is_audited() {
        let (_dir, ledger) = crate::ledger::tests::ledger();
        add(&ledger, "Juma", "cashier");
        let now = Utc::now();
        attempt(&ledger, "Juma", false, now);
        attempt(&ledger, "Juma", false, now);
        assert!(matches!(attempt(&ledger, "Juma", true, now), PinAttempt::Accepted(_)));
        assert_eq!(attempt(&ledger, "Juma", false, now), PinAttempt::Rejected { remaining: 2 });
        assert_eq!(attempt(&ledger, "Nobody", true, now), PinAttempt::Unknown);
        let events: Vec<(String, String)> = ledger
            .conn()
            .prepare("SELECT event, outcome FROM audit_log WHERE event = 'sign_in' ORDER BY seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let outcomes: Vec<&str> = events.iter().map(|(_, o)| o.as_str()).collect();
        assert_eq!(outcomes, ["failure", "failure", "success", "failure", "failure"]);
    }

    #[test]
    fn a_deactivated_person_cannot_sign_in_and_a_pin_reset_unlocks() {
        let (_dir, ledger) = crate::ledger::tests::ledger();
        add(&ledger, "Njeri", "manager");
        add(&ledger, "Juma", "cashier");
        let now = Utc::now();
        for _ in 0..3 {
            attempt(&ledger, "Juma", false, now);
        }
        assert!(matches!(attempt(&ledger, "Juma", true, now), PinAttempt::Locked { .. }));
        let reset = AuditEntry::new("Amina", "staff_changed", Outcome::Success, "PIN reset for Juma");
        assert!(ledger.update_staff("Juma", Some("hash-of-1234"), None, None, &reset).unwrap());
        assert!(matches!(attempt(&ledger, "Juma", true, now), PinAttempt::Accepted(_)));
        let off = AuditEntry::new("Amina", "staff_changed", Outcome::Success, "Juma deactivated");
        assert!(ledger.update_staff("Juma", None, None, Some(false), &off).unwrap());
        assert_eq!(attempt(&ledger, "Juma", true, now), PinAttempt::Unknown);
        assert!(!ledger.staff("Juma").unwrap().unwrap().active);
    }

    #[test]
    fn guesses_at_two_tills_at_once_still_stop_at_the_limit() {
        let (dir, ledger) = crate::ledger::tests::ledger();
        add(&ledger, "Juma", "cashier");
        let now = Utc::now();
        let handles: Vec<_> = (0..6)
            .map(|i| {
                let path = dir.path().join(crate::ledger::LEDGER_FILE);
                std::thread::spawn(move || {
                    let till = Ledger::open(&path, &format!("TILL-{}", i % 2)).unwrap();
                    // A slow check, as argon2 is: the count must not wait for it, nor be fooled by it.
                    till.attempt_pin("Juma", "sign_in", now, LOCKOUT, false, |_| {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        false
                    })
                    .unwrap()
                })
            })
            .collect();
        let results: Vec<PinAttempt> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let rejected = results.iter().filter(|r| matches!(r, PinAttempt::Rejected { .. })).count();
        let locked = results.iter().filter(|r| matches!(r, PinAttempt::Locked { .. })).count();
        assert_eq!((rejected, locked), (2, 4), "{results:?}");
    }

    #[test]
    fn two_managers_demoting_each_other_at_once_leave_one() {
        let (dir, ledger) = crate::ledger::tests::ledger();
        add(&ledger, "Njeri", "manager");
        add(&ledger, "Baraka", "manager");
        let handles: Vec<_> = ["Njeri", "Baraka"]
            .into_iter()
            .map(|name| {
                let path = dir.path().join(crate::ledger::LEDGER_FILE);
                std::thread::spawn(move || {
                    let till = Ledger::open(&path, "TILL-2").unwrap();
                    let entry = AuditEntry::new("x", "staff_changed", Outcome::Success, format!("{name} demoted"));
                    till.update_staff(name, None, Some("cashier"), None, &entry)
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(results.iter().filter(|r| matches!(r, Ok(true))).count(), 1, "{results:?}");
        assert_eq!(results.iter().filter(|r| matches!(r, Err(LedgerError::NoManagerLeft))).count(), 1);
        let managers = ledger.list_staff().unwrap().into_iter().filter(|s| s.role == "manager").count();
        assert_eq!(managers, 1);
        // The refused change left no audit row.
        let n: i64 = ledger
            .conn()
            .query_row("SELECT COUNT(*) FROM audit_log WHERE event = 'staff_changed'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn a_cashiers_right_pin_is_no_managers_approval_and_unknown_names_are_not_kept() {
        let (_dir, ledger) = crate::ledger::tests::ledger();
        add(&ledger, "Juma", "cashier");
        let approve = |name: &str| {
            ledger.attempt_pin(name, "manager_pin", Utc::now(), LOCKOUT, true, |h| h == "hash-of-1234").unwrap()
        };
        assert_eq!(approve("Juma"), PinAttempt::NotManager);
        assert_eq!(approve("4821"), PinAttempt::Unknown);
        let rows: Vec<(String, String, String)> = ledger
            .conn()
            .prepare(
                "SELECT actor, outcome, COALESCE(subject, '') FROM audit_log WHERE event = 'manager_pin' ORDER BY seq",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows[0].0, "Juma");
        assert_eq!(rows[0].1, "failure", "a refused approval is never logged as a success");
        assert_eq!(rows[1].0, "unknown");
        assert!(!rows[1].2.contains("4821"), "a PIN typed as a name is not kept: {:?}", rows[1]);
    }

    #[test]
    fn only_a_new_pin_lifts_a_lock() {
        let (_dir, ledger) = crate::ledger::tests::ledger();
        add(&ledger, "Njeri", "manager");
        add(&ledger, "Juma", "cashier");
        let now = Utc::now();
        for _ in 0..3 {
            attempt(&ledger, "Juma", false, now);
        }
        let promote = AuditEntry::new("Njeri", "staff_changed", Outcome::Success, "Juma: role manager");
        assert!(ledger.update_staff("Juma", None, Some("manager"), None, &promote).unwrap());
        assert!(matches!(attempt(&ledger, "Juma", true, now), PinAttempt::Locked { .. }));
    }
}
