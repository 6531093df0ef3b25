use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kaunta_core::Till;
use kaunta_core::health::HealthBoard;
use kaunta_core::staff::Staff;

/// A manager's approval lapses after this long unused, so a back office
/// left open at a shared till does not stay open for the next person.
pub const MANAGER_IDLE: Duration = Duration::from_secs(5 * 60);

/// Everything the commands share: the till, who is signed in at it, and
/// which manager (if any) has approved back-office work.
#[derive(Clone)]
pub struct AppState {
    pub till: Arc<Till>,
    /// Each provider's last probe, for the cashier screen's status.
    pub health: Arc<HealthBoard>,
    session: Arc<Mutex<Session>>,
}

#[derive(Default)]
struct Session {
    staff: Option<Staff>,
    manager: Option<(Staff, Instant)>,
}

impl AppState {
    pub fn new(till: Till) -> Self {
        AppState {
            till: Arc::new(till),
            health: Arc::new(HealthBoard::default()),
            session: Arc::new(Mutex::new(Session::default())),
        }
    }

    fn session(&self) -> std::sync::MutexGuard<'_, Session> {
        self.session.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn staff(&self) -> Option<Staff> {
        self.session().staff.clone()
    }

    pub fn cashier(&self) -> Option<String> {
        self.staff().map(|s| s.name)
    }

    /// Signing in or out also ends any manager approval.
    pub fn set_staff(&self, staff: Option<Staff>) {
        *self.session() = Session { staff, manager: None };
    }

    /// The approving manager, if their approval is still fresh; using it
    /// keeps it fresh.
    pub fn manager(&self) -> Option<Staff> {
        let mut session = self.session();
        match &mut session.manager {
            Some((staff, used)) if used.elapsed() < MANAGER_IDLE => {
                *used = Instant::now();
                Some(staff.clone())
            }
            _ => {
                session.manager = None;
                None
            }
        }
    }

    /// Read without refreshing, for the screen to show.
    pub fn manager_name(&self) -> Option<String> {
        self.session().manager.as_ref().filter(|(_, used)| used.elapsed() < MANAGER_IDLE).map(|(s, _)| s.name.clone())
    }

    pub fn set_manager(&self, manager: Option<Staff>) {
        self.session().manager = manager.map(|m| (m, Instant::now()));
    }
}
