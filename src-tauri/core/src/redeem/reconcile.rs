//! Settling rows no flow is working on any more, in a running app and not
//! only at the next start: a pending row whose outcome could not be written,
//! an `unknown` one a provider can answer about, a Pesapal order the cashier
//! stopped waiting for, and a Pesapal answer that changed after it was final.
//! A row is only touched when its owner is gone or it is this process's own
//! and unheld (`lease::Lease::settle`), so two tills never settle one row at
//! once and a request still in flight is never second-guessed.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::FlowError;
use crate::ledger::transactions::Finish;
use crate::ledger::{AuditEntry, LedgerError, Outcome, State, TransactionRow};
use crate::providers::ProviderId;
use crate::till::Till;

/// How often the running app looks for rows to settle.
pub const EVERY: Duration = Duration::from_secs(15);

/// An open row is asked about again after this, doubling up to `OPEN_CAP`:
/// a walked-away order is noticed within seconds, an unpaid one costs a
/// query every few minutes.
const OPEN_FIRST: Duration = Duration::from_secs(5);
const OPEN_CAP: Duration = Duration::from_secs(300);
/// A final Pesapal checkout is watched this long for a changed answer
/// (FAILED then COMPLETED, COMPLETED then REVERSED), more and more rarely:
/// about twenty status queries per order over the day.
const LATE_WINDOW: chrono::TimeDelta = chrono::TimeDelta::hours(24);
const LATE_FIRST: Duration = Duration::from_secs(60);
const LATE_CAP: Duration = Duration::from_secs(2 * 60 * 60);
/// BitPesa allows six status reads of a transaction in its first hour and
/// one an hour after (payout.rs, `LIVE_CHECKPOINTS`): an unknown payout is
/// asked about rarely, and one under way is left to the Payouts screen,
/// which follows it on that schedule, so the two never add up past it.
const PAYOUT_FIRST: Duration = Duration::from_secs(15 * 60);
const PAYOUT_CAP: Duration = Duration::from_secs(60 * 60);

impl Till {
    /// One pass over every row this process may settle; `due` says whether a
    /// row may be asked about now (the background's backoff; always for a
    /// start-up or a manager's recheck).
    pub(crate) async fn reconcile_pass(
        &self,
        actor: &str,
        due: &mut (dyn FnMut(&TransactionRow) -> bool + Send),
    ) -> Result<Vec<TransactionRow>, FlowError> {
        let dir = self.data_dir().to_path_buf();
        let who = actor.to_string();
        self.db(move |l| l.mark_abandoned_unknown(&dir, &who, never_payable)).await?;
        let open = self.db(|l| l.open_transactions()).await?;
        let mut settled = Vec::new();
        for row in open {
            let Some(_held) = self.lease().settle(self.data_dir(), &row.owner, &row.id) else { continue };
            let row = if row.state == State::Pending && !open_at_provider(&row) {
                // Settled by someone else meanwhile: nothing left to do.
                let Some(row) = self.settle_unrecorded(actor, row).await? else { continue };
                if row.state.is_final() {
                    settled.push(row);
                    continue;
                }
                row
            } else {
                row
            };
            if !due(&row) {
                continue;
            }
            let done = match (row.operation.as_str(), row.provider.parse()) {
                ("checkout", Ok(ProviderId::Pesapal)) => self.pesapal_verdict(&row).await,
                ("payout", Ok(ProviderId::BitPesa)) => self.bitpesa_verdict(&row).await,
                ("redeem", Ok(ProviderId::PesaVoucher)) if row.state == State::Unknown => {
                    self.settle_pesavoucher(actor, &row).await?
                }
                // Telesend and GiftPesa have no status query: a manager decides.
                _ => None,
            };
            settled.extend(done);
        }
        let since = chrono::Utc::now() - LATE_WINDOW;
        let watched = self.db(move |l| l.final_checkouts_since(ProviderId::Pesapal.as_str(), since)).await?;
        for row in watched {
            let Some(_held) = self.lease().settle(self.data_dir(), &row.owner, &row.id) else { continue };
            if !due(&row) {
                continue;
            }
            settled.extend(self.pesapal_verdict(&row).await);
        }
        Ok(settled)
    }

    /// A pending row that no flow holds and the provider does not hold open:
    /// the provider was asked but the answer never reached the ledger (a
    /// failed write, a stopped flow, a crash). It becomes `unknown`, for the
    /// provider or a manager to settle, unless nobody could have paid it.
    /// `None` when another process or flow finished it first.
    async fn settle_unrecorded(&self, actor: &str, row: TransactionRow) -> Result<Option<TransactionRow>, FlowError> {
        let (state, outcome, action, note, message) = if never_payable(&row) {
            (
                State::Failed,
                Outcome::Failure,
                "checkout_never_shown",
                "the order's tracking id and payment link were never recorded, so they were never shown and \
                     nobody could pay; failed, no payment taken",
                "The payment link was never shown: no payment was taken",
            )
        } else {
            (
                State::Unknown,
                Outcome::Info,
                "outcome_unrecorded",
                "the provider was asked but its answer was not recorded (the write failed or the flow stopped); \
                     outcome unknown",
                "Kaunta could not record the provider's answer",
            )
        };
        let entry = AuditEntry::about(&row, actor, action, outcome, note);
        let finish = Finish { message: message.into(), ..Finish::default() };
        let id = row.id.clone();
        match self.db(move |l| l.finish(&id, state, &finish, &entry)).await {
            Ok(row) => Ok(Some(row)),
            Err(FlowError::Ledger(LedgerError::AlreadyFinal { .. })) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// PesaVoucher's word on an unknown redemption, recorded once.
    async fn settle_pesavoucher(&self, actor: &str, row: &TransactionRow) -> Result<Option<TransactionRow>, FlowError> {
        let Some((state, message)) = self.pesavoucher_verdict(row).await else { return Ok(None) };
        let entry = AuditEntry::about(
            row,
            actor,
            "reconciled",
            if state == State::Completed { Outcome::Success } else { Outcome::Failure },
            message.clone(),
        );
        let id = row.id.clone();
        let finish = Finish { message, ..Finish::default() };
        match self.db(move |l| l.finish(&id, state, &finish, &entry)).await {
            Ok(row) => Ok(Some(row)),
            Err(FlowError::Ledger(LedgerError::AlreadyFinal { .. })) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A pending row that is legitimately open at the provider: a Pesapal order
/// the customer may still pay, a BitPesa payout under way. Without the
/// provider's reference it was never known to be open.
fn open_at_provider(row: &TransactionRow) -> bool {
    matches!(row.operation.as_str(), "checkout" | "payout") && row.provider_reference.is_some()
}

/// A checkout with no tracking id recorded. The flow records the id before
/// it shows the payment link or its QR code, so whether or not Pesapal
/// opened the order, nobody was given a way to pay it: it failed, as it
/// does when a running flow loses SubmitOrderRequest's answer (pesapal.rs,
/// `NoPaymentTaken`), and after a crash too.
fn never_payable(row: &TransactionRow) -> bool {
    row.operation == "checkout" && row.provider_reference.is_none()
}

/// When each row may next be asked about.
#[derive(Debug, Clone, Copy)]
struct Backoff {
    next: Instant,
    pause: Duration,
}

/// Is `row` due at `now`? A row seen for the first time is; each query
/// pushes the next one further out, up to a cap.
fn due_at(schedule: &mut HashMap<String, Backoff>, row: &TransactionRow, now: Instant) -> bool {
    let payout = row.operation == "payout";
    if payout && row.state == State::Pending {
        return false;
    }
    let (first, cap) = match (payout, row.state.is_final()) {
        (true, _) => (PAYOUT_FIRST, PAYOUT_CAP),
        (false, true) => (LATE_FIRST, LATE_CAP),
        (false, false) => (OPEN_FIRST, OPEN_CAP),
    };
    match schedule.get_mut(&row.id) {
        None => {
            schedule.insert(row.id.clone(), Backoff { next: now + first, pause: first });
            true
        }
        Some(b) if now >= b.next => {
            b.pause = (b.pause * 2).min(cap);
            b.next = now + b.pause;
            true
        }
        Some(_) => false,
    }
}

/// The running app's reconciler: passes on a timer, each row asked about
/// on its own backoff.
#[derive(Default)]
pub struct Reconciler {
    schedule: HashMap<String, Backoff>,
}

impl Reconciler {
    pub fn new() -> Self {
        Self::default()
    }

    /// One pass now; rows that are not due yet are skipped.
    pub async fn pass(&mut self, till: &Till) -> Result<Vec<TransactionRow>, FlowError> {
        let now = Instant::now();
        let mut seen = HashSet::new();
        let schedule = &mut self.schedule;
        let mut due = |row: &TransactionRow| {
            seen.insert(row.id.clone());
            due_at(schedule, row, now)
        };
        let settled = till.reconcile_pass("system", &mut due).await;
        // Settled or vanished rows leave the schedule.
        self.schedule.retain(|id, _| seen.contains(id));
        settled
    }

    /// Passes every `every` for as long as the app runs. A failed pass (a
    /// busy or full disk) is reported and the next one tries again.
    pub async fn run(mut self, till: Arc<Till>, every: Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.pass(&till).await {
                Ok(settled) => {
                    for row in settled {
                        eprintln!("kaunta: settled {} {} as {}", row.provider, row.id, row.state);
                    }
                }
                Err(e) => eprintln!("kaunta: reconciling open transactions failed: {e}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(state: State) -> TransactionRow {
        TransactionRow {
            id: "tx".into(),
            created_at: String::new(),
            updated_at: String::new(),
            till_id: "t".into(),
            cashier: "a".into(),
            provider: "pesapal".into(),
            operation: "checkout".into(),
            code_masked: None,
            amount_minor: None,
            currency: None,
            state,
            provider_reference: Some("ref".into()),
            customer_name: None,
            outcome_message: None,
            training: true,
            voucher_code: None,
            owner: String::new(),
        }
    }

    #[test]
    fn the_backoff_doubles_up_to_its_cap() {
        let mut schedule = HashMap::new();
        let start = Instant::now();
        let open = row(State::Pending);
        assert!(due_at(&mut schedule, &open, start), "first seen: asked at once");
        assert!(!due_at(&mut schedule, &open, start + OPEN_FIRST / 2));
        let mut at = start;
        let mut pauses = Vec::new();
        for _ in 0..12 {
            at = schedule["tx"].next;
            assert!(due_at(&mut schedule, &open, at));
            pauses.push(schedule["tx"].next - at);
        }
        assert_eq!(pauses[0], OPEN_FIRST * 2);
        assert_eq!(*pauses.last().unwrap(), OPEN_CAP, "bounded");
        assert!(pauses.windows(2).all(|w| w[0] <= w[1]));
        assert!(!due_at(&mut schedule, &open, at + OPEN_CAP / 2));

        // BitPesa payouts: one under way is the Payouts screen's to follow;
        // an unknown one is asked at 0, 15 and 45 minutes: three of BitPesa's
        // six reads in the first hour, the rest left for a manager's refresh.
        let mut payouts = HashMap::new();
        let under_way =
            TransactionRow { operation: "payout".into(), provider: "bitpesa".into(), ..row(State::Pending) };
        assert!(!due_at(&mut payouts, &under_way, start));
        assert!(!due_at(&mut payouts, &under_way, start + OPEN_CAP * 100));
        let unknown = TransactionRow { operation: "payout".into(), provider: "bitpesa".into(), ..row(State::Unknown) };
        let mut reads = 0;
        let mut t = start;
        while t < start + Duration::from_secs(3_600) {
            reads += u32::from(due_at(&mut payouts, &unknown, t));
            t += EVERY;
        }
        assert_eq!(reads, 3);

        let mut late = HashMap::new();
        assert!(due_at(&mut late, &row(State::Completed), start));
        assert_eq!(late["tx"].pause, LATE_FIRST, "final rows are watched more rarely");
    }
}
