//! Receipts: laid out as a PDF for an 80 mm roll, saved in the data
//! directory, and printed through CUPS.

pub mod history;
pub mod layout;
pub mod print;
pub mod report;
pub(crate) mod roll;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::money::Money;

#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    #[error("The receipt could not be laid out: {0}")]
    Layout(String),
    #[error("The receipt could not be saved to {path}: {source}")]
    Save { path: PathBuf, source: std::io::Error },
}

/// Everything a receipt shows. Codes arrive already masked.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub store_name: String,
    pub till_id: String,
    pub cashier: String,
    /// Local date and time as printed, e.g. "25 Nov 2026 20:15".
    pub local_time: String,
    pub title: String,
    pub provider: String,
    pub code_masked: Option<String>,
    pub customer_name: Option<String>,
    pub amount: Option<Money>,
    /// Provider-specific lines (a reference, a time), label and value.
    pub details: Vec<(String, String)>,
    pub transaction_id: String,
    pub training: bool,
    pub reprint: bool,
}

/// Where a receipt went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub path: String,
    pub printed: bool,
    pub printer: Option<String>,
    pub print_error: Option<String>,
}

/// Renders and saves `receipts/<transaction id>[-reprint-N].pdf`; returns
/// the path and the page height in millimetres.
pub fn save(receipt: &Receipt, data_dir: &Path) -> Result<(PathBuf, f32), ReceiptError> {
    let (bytes, height_mm) = layout::render(receipt)?;
    let dir = data_dir.join("receipts");
    std::fs::create_dir_all(&dir).map_err(|source| ReceiptError::Save { path: dir.clone(), source })?;
    let mut path = dir.join(format!("{}.pdf", receipt.transaction_id));
    let mut n = 1;
    while receipt.reprint && path.exists() {
        path = dir.join(format!("{}-reprint-{n}.pdf", receipt.transaction_id));
        n += 1;
    }
    std::fs::write(&path, bytes).map_err(|source| ReceiptError::Save { path: path.clone(), source })?;
    Ok((path, height_mm))
}
