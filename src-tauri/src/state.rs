use std::sync::{Arc, Mutex};

use kaunta_core::Till;

/// Everything the commands share: the till, and who is signed in at it.
#[derive(Clone)]
pub struct AppState {
    pub till: Arc<Till>,
    cashier: Arc<Mutex<Option<String>>>,
}

impl AppState {
    pub fn new(till: Till) -> Self {
        AppState { till: Arc::new(till), cashier: Arc::new(Mutex::new(None)) }
    }

    pub fn cashier(&self) -> Option<String> {
        self.cashier.lock().unwrap().clone()
    }

    pub fn set_cashier(&self, name: Option<String>) {
        *self.cashier.lock().unwrap() = name;
    }
}
