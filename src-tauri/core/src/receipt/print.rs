//! Printing through CUPS with `lp`: every Linux till has it, and it reaches
//! any printer CUPS knows, thermal or PDF.

use std::path::Path;

use super::Delivery;

/// Sends the PDF to `printer` (or the default destination). A failure to
/// print is reported, never fatal: the receipt is already saved.
pub async fn print(path: &Path, printer: Option<&str>, height_mm: Option<f32>) -> Delivery {
    let mut cmd = tokio::process::Command::new("lp");
    if let Some(p) = printer {
        cmd.arg("-d").arg(p);
    }
    // The job title names the output of PDF printers (cups-pdf): one file per receipt.
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    cmd.arg("-t").arg(format!("Kaunta receipt {stem}"));
    if let Some(h) = height_mm {
        cmd.arg("-o").arg(format!("media=Custom.80x{}mm", h.ceil() as u32));
    }
    cmd.arg("--").arg(path);
    let shown = path.display().to_string();
    // A hung print service must not keep the cashier from the result.
    let output = match tokio::time::timeout(std::time::Duration::from_secs(10), cmd.output()).await {
        Ok(output) => output,
        Err(_) => {
            return Delivery {
                path: shown,
                printed: false,
                printer: printer.map(str::to_string),
                print_error: Some("the printer did not answer within 10 seconds; the receipt was saved".into()),
            };
        }
    };
    match output {
        Ok(out) if out.status.success() => Delivery {
            path: shown,
            printed: true,
            printer: printer.map(str::to_string).or(default_printer().await),
            print_error: None,
        },
        Ok(out) => Delivery {
            path: shown,
            printed: false,
            printer: printer.map(str::to_string),
            print_error: Some(plain_lp_error(&String::from_utf8_lossy(&out.stderr))),
        },
        Err(e) => Delivery {
            path: shown,
            printed: false,
            printer: printer.map(str::to_string),
            print_error: Some(format!("printing is not set up on this computer (lp: {e}); the receipt was saved")),
        },
    }
}

fn plain_lp_error(stderr: &str) -> String {
    let first = stderr.lines().next().unwrap_or("").trim();
    if first.contains("No default destination") {
        "no printer is set up: choose one in Settings; the receipt was saved".into()
    } else if first.contains("does not exist") {
        "the chosen printer does not exist: check Settings; the receipt was saved".into()
    } else if first.contains("Scheduler is not running") || first.contains("Connection refused") {
        "the print service is not running; the receipt was saved".into()
    } else {
        format!("the receipt could not be printed ({first}); it was saved")
    }
}

async fn default_printer() -> Option<String> {
    let out = tokio::process::Command::new("lpstat").arg("-d").output().await.ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_once(':').map(|(_, name)| name.trim().to_string()).filter(|n| !n.is_empty())
}
