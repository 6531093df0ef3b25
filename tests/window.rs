//! The real window under Xvfb, driven through tauri-driver and
//! WebKitWebDriver: a cashier signs in, scans a voucher, sees its value,
//! redeems it once however hard the keys are pressed, and the ledger agrees.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use support::{Till, artifacts_dir, free_port, kaunta_bin, wait_for_port};

const CODE: &str = "NLV-DTUMJQ6ILG9WNISE";
const UI_WAIT: Duration = Duration::from_secs(15);

/// A whole window test may take this long: a WebDriver call that never
/// returns fails the test instead of stalling the run.
const TEST_DEADLINE: Duration = Duration::from_secs(180);

async fn deadline(test: impl std::future::Future<Output = ()>) {
    tokio::time::timeout(TEST_DEADLINE, test).await.expect("the window test finished within its deadline");
}

struct Driver {
    child: Child,
    port: u16,
    native: u16,
}

impl Driver {
    fn start() -> Driver {
        let (port, native) = (free_port(), free_port());
        let child = Command::new("tauri-driver")
            .args(["--port", &port.to_string(), "--native-port", &native.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("tauri-driver is installed by scripts/setup --with-test-tools");
        // tauri-driver listens before the WebKitWebDriver it starts does, and
        // a session requested in between fails: wait for both.
        wait_for_port(port, Duration::from_secs(20));
        wait_for_port(native, Duration::from_secs(20));
        Driver { child, port, native }
    }

    async fn open(&self, till: &Till) -> Client {
        let mut caps = serde_json::Map::new();
        caps.insert(
            "tauri:options".into(),
            json!({
                "application": kaunta_bin(),
                "args": ["--data-dir", till.path()],
            }),
        );
        let url = format!("http://127.0.0.1:{}", self.port);
        let mut builder = ClientBuilder::new(HttpConnector::new());
        let connect = builder.capabilities(caps).connect(&url);
        tokio::time::timeout(Duration::from_secs(60), connect)
            .await
            .expect("a WebDriver session within a minute")
            .expect("a WebDriver session with the Kaunta window")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // tauri-driver does not take its WebKitWebDriver down with it.
        let _ = Command::new("pkill").args(["-f", &format!("WebKitWebDriver --port={} ", self.native)]).status();
    }
}

async fn wait_for(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(UI_WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} never appeared: {e}"))
}

/// The element's text content, whitespace folded. (WebKitWebDriver's
/// "visible text" comes back empty for `overflow: hidden` elements.)
async fn text(c: &Client, css: &str) -> String {
    // Svelte may replace the node between finding it and reading it: find it again.
    for _ in 0..20 {
        match wait_for(c, css).await.prop("textContent").await {
            Ok(raw) => return raw.unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" "),
            Err(fantoccini::error::CmdError::Standard(e))
                if e.error == fantoccini::error::ErrorStatus::StaleElementReference => {}
            Err(e) => panic!("{css}: {e}"),
        }
    }
    panic!("{css} kept being replaced")
}

async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(artifacts_dir().join(name), png).unwrap();
}

const PIN: &str = "4821";

/// A new till opens on "create the first manager": `name` becomes it and is signed in.
async fn create_first_manager(c: &Client, name: &str) {
    wait_for(c, "#cashier-input").await.send_keys(name).await.unwrap();
    c.find(Locator::Css("#pin-input")).await.unwrap().send_keys(PIN).await.unwrap();
    c.find(Locator::Css("#pin-confirm")).await.unwrap().send_keys(&format!("{PIN}\u{E007}")).await.unwrap();
    wait_for(c, "#cashier-name").await;
}

/// Types into the voucher field as a barcode scanner does: the code, then Enter.
async fn scan(c: &Client, code: &str) {
    let field = wait_for(c, "#voucher-code").await;
    field.clear().await.unwrap();
    field.send_keys(&format!("{code}\u{E007}")).await.unwrap();
}

#[tokio::test]
async fn a_cashier_redeems_a_voucher_once_through_the_window() {
    deadline(async {
    let till = Till::new(
        "environment = \"training\"\nstore_name = \"Duka la Mama Njeri\"\ntill_id = \"TILL-3\"\n\n[receipt]\nprint = true\nprinter = \"PDF\"\n",
    );
    let driver = Driver::start();
    let c = driver.open(&till).await;

    // Sign in.
    wait_for(&c, "#training-badge").await;
    create_first_manager(&c, "Amina Wanjiku").await;
    assert_eq!(text(&c, "#cashier-name").await, "Amina Wanjiku");
    assert_eq!(text(&c, "#store-name").await, "Duka la Mama Njeri");

    // Scan: validated on Enter, amount and customer shown, Redeem enabled.
    scan(&c, &CODE.to_lowercase()).await;
    wait_for(&c, "#voucher-status[data-state='valid']").await;
    assert_eq!(text(&c, "#voucher-amount").await, "KES 750.00");
    assert!(text(&c, "#voucher-customer").await.contains("Jane Doe"));
    let redeem = wait_for(&c, "#redeem-button").await;
    assert!(redeem.is_enabled().await.unwrap());
    // The code field keeps focus for the next scan.
    let focused = c.execute("return document.activeElement && document.activeElement.id", vec![]).await.unwrap();
    assert_eq!(focused, json!("voucher-code"));
    screenshot(&c, "cashier-valid.png").await;

    // Enter again must not redeem; F9 twice and a click redeem exactly once.
    wait_for(&c, "#voucher-code").await.send_keys("\u{E007}").await.unwrap();
    assert!(till.states_of(CODE).is_empty(), "Enter must never redeem");
    wait_for(&c, "#voucher-code").await.send_keys("\u{E039}\u{E039}").await.unwrap();
    let _ = redeem.click().await;
    wait_for(&c, "#redeem-success").await;
    assert_eq!(text(&c, "#success-message").await, "KES 750.00 redeemed: hand over the goods");
    let receipt = text(&c, "#receipt-status").await;
    assert!(receipt.contains("PDF"), "{receipt}");
    screenshot(&c, "cashier-success.png").await;

    // The ledger agrees: one completed redemption, an intact audit chain.
    assert_eq!(till.states_of(CODE), ["completed"]);
    let recent = text(&c, "#recent").await;
    assert!(recent.contains("NISE"), "{recent}");
    assert!(!recent.contains("DTUM"), "codes are masked on screen: {recent}");

    // Next customer: the same voucher again is refused, in plain words.
    wait_for(&c, "#next-customer").await.click().await.unwrap();
    scan(&c, CODE).await;
    wait_for(&c, "#voucher-status[data-state='invalid']").await;
    assert!(text(&c, "#voucher-error").await.contains("already used"));
    assert!(!wait_for(&c, "#redeem-button").await.is_enabled().await.unwrap());

    // Markup in the code field is shown as text, never run or rendered.
    scan(&c, "<img src=x onerror=alert(1)>").await;
    wait_for(&c, "#voucher-status[data-state='error']").await;
    assert!(text(&c, "#voucher-error").await.contains("letters, digits and dashes"));
    let images = c.find_all(Locator::Css("#voucher-status img")).await.unwrap();
    assert!(images.is_empty());

    c.close().await.unwrap();
    drop(driver);

    let verify = till.run(&["audit", "verify", "--json"]);
    assert_eq!(verify.status.code(), Some(0), "{}", String::from_utf8_lossy(&verify.stdout));
    let events = till.audit_events();
    for expected in ["sign_in", "validate", "redeem_attempt", "redeem_outcome", "receipt_printed"] {
        assert!(events.iter().any(|e| e == expected), "{expected} missing from {events:?}");
    }
    assert_eq!(events.iter().filter(|e| *e == "redeem_attempt").count(), 1);
    })
    .await
}

/// Follows a link in the checkout page from script: the page then navigates
/// to the callback URL and its window closes, and a WebDriver click would
/// wait on a navigation in a window that no longer exists.
async fn follow_link(c: &Client, css: &str) {
    wait_for(c, css).await;
    c.execute(&format!("setTimeout(() => document.querySelector({css:?}).click(), 0)"), vec![]).await.unwrap();
}

/// Polls `probe` until it yields a value: for what WebDriver offers no wait on
/// (a new window appearing).
async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + UI_WAIT;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads the training SMS code off the screen: the digits in `#training-sms`.
async fn training_sms(c: &Client) -> String {
    let note = text(c, "#training-sms").await;
    let digits: String = note.chars().filter(char::is_ascii_digit).collect();
    assert_eq!(digits.len(), 6, "{note}");
    digits
}

#[tokio::test]
async fn a_cashier_claims_and_redeems_part_of_a_telesend_gift() {
    deadline(async {
        let till =
            Till::new("environment = \"training\"\nstore_name = \"Addis Mini Market\"\n\n[receipt]\nprint = false\n");
        let driver = Driver::start();
        let c = driver.open(&till).await;
        create_first_manager(&c, "Selam").await;
        wait_for(&c, "#tab-telesend").await.click().await.unwrap();

        // Claim part of the gift: code, amount, Enter.
        wait_for(&c, "#telesend-panel[data-step='claim']").await;
        wait_for(&c, "#gift-code").await.send_keys("ts-gift-2500").await.unwrap();
        wait_for(&c, "#gift-amount").await.send_keys("500\u{E007}").await.unwrap();
        wait_for(&c, "#telesend-panel[data-step='verify']").await;
        assert!(text(&c, "#sms-status").await.contains("ETB 500.00"));
        let sms = training_sms(&c).await;

        // A wrong code is refused and can be retyped.
        let wrong = if sms == "000000" { "111111" } else { "000000" };
        wait_for(&c, "#verification-code").await.send_keys(&format!("{wrong}\u{E007}")).await.unwrap();
        wait_for(&c, "#gift-error[data-code='wrong_verification_code']").await;
        wait_for(&c, "#telesend-panel[data-step='verify']").await;
        screenshot(&c, "telesend-verify.png").await;
        let field = wait_for(&c, "#verification-code").await;
        field.send_keys(&format!("{sms}\u{E007}\u{E007}")).await.unwrap();

        wait_for(&c, "#redeem-success").await;
        assert_eq!(text(&c, "#success-message").await, "ETB 500.00 redeemed: hand over the goods");
        let receipt = text(&c, "#receipt-status").await;
        assert!(receipt.contains(".pdf"), "{receipt}");
        screenshot(&c, "telesend-success.png").await;
        c.close().await.unwrap();
        drop(driver);

        let db = till.db();
        let states: Vec<String> = db
            .prepare("SELECT state FROM transactions WHERE voucher_code = 'TS-GIFT-2500' ORDER BY created_at")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(states, ["failed", "completed"], "one wrong code, one redemption");
        let amount: i64 =
            db.query_row("SELECT amount_minor FROM transactions WHERE state = 'completed'", [], |r| r.get(0)).unwrap();
        assert_eq!(amount, 50_000);
    })
    .await
}

#[tokio::test]
async fn a_cashier_redeems_a_giftpesa_balance_at_the_till() {
    deadline(async {
        let till = Till::new("environment = \"training\"\n\n[receipt]\nprint = false\n");
        let driver = Driver::start();
        let c = driver.open(&till).await;
        create_first_manager(&c, "Baraka").await;
        wait_for(&c, "#tab-giftpesa").await.click().await.unwrap();
        wait_for(&c, "#giftpesa-panel[data-step='form']").await;
        assert!(text(&c, "#gp-till").await.contains("123456"));

        // Enter walks the fields; a bad amount is refused and the form stays filled.
        wait_for(&c, "#gp-name").await.send_keys("Jane Doe\u{E007}").await.unwrap();
        wait_for(&c, "#gp-phone").await.send_keys("0720 123 456\u{E007}").await.unwrap();
        wait_for(&c, "#gp-amount").await.send_keys("99.50\u{E007}").await.unwrap();
        wait_for(&c, "#gp-remarks").await.send_keys("Weekly shopping\u{E007}").await.unwrap();
        wait_for(&c, "#gp-error[data-code='invalid_amount']").await;
        assert!(till.states_of("254720123456").is_empty(), "refused before anything was written");

        let amount = wait_for(&c, "#gp-amount").await;
        amount.clear().await.unwrap();
        amount.send_keys("400").await.unwrap();
        wait_for(&c, "#gp-remarks").await.send_keys("\u{E039}\u{E039}").await.unwrap();
        wait_for(&c, "#redeem-success").await;
        assert_eq!(text(&c, "#success-message").await, "KES 400.00 redeemed: hand over the goods");
        screenshot(&c, "giftpesa-success.png").await;

        // The next customer is the same, for the same amount: taken for a
        // double submission until the cashier confirms a second purchase.
        press(&c, "\u{E007}").await;
        wait_for(&c, "#giftpesa-panel[data-step='form']").await;
        wait_for(&c, "#gp-name").await.send_keys("Jane Doe\u{E007}").await.unwrap();
        wait_for(&c, "#gp-phone").await.send_keys("0720123456\u{E007}").await.unwrap();
        wait_for(&c, "#gp-amount").await.send_keys("400\u{E007}").await.unwrap();
        wait_for(&c, "#gp-remarks").await.send_keys("\u{E039}").await.unwrap();
        wait_for(&c, "#gp-error[data-code='just_redeemed']").await;
        assert_eq!(till.states_of("254720123456"), ["completed"], "nothing sent before the confirmation");
        assert!(text(&c, "#gp-redeem[data-confirm='true']").await.starts_with("Redeem again"));
        wait_for(&c, "#gp-remarks").await.send_keys("\u{E039}").await.unwrap();
        wait_for(&c, "#redeem-success").await;
        c.close().await.unwrap();
        drop(driver);
        assert_eq!(till.states_of("254720123456"), ["completed", "completed"]);
        assert!(till.audit_events().iter().any(|e| e == "repeat_confirmed"));
    })
    .await
}

/// A provider that cannot be reached is named on its tab and over its
/// panel, with what to do; the providers that answer are shown online;
/// the back office's payouts say so for BitPesa.
#[tokio::test]
async fn a_provider_that_cannot_be_reached_is_shown_before_a_sale_is_tried() {
    deadline(async {
        // A port nothing listens on: every connection is refused.
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let till = Till::new(&format!(
            "environment = \"training\"\n\n[receipt]\nprint = false\n\n[providers.giftpesa]\nbase_url = \"http://{dead}/api\"\n\n[providers.bitpesa]\nbase_url = \"http://{dead}/\"\n"
        ));
        let driver = Driver::start();
        let c = driver.open(&till).await;
        create_first_manager(&c, "Baraka").await;
        wait_for(&c, "#tab-giftpesa[data-reach='down']").await;
        for up in ["pesavoucher", "telesend", "pesapal"] {
            wait_for(&c, &format!("#tab-{up}[data-reach='up']")).await;
        }
        assert!(c.find_all(Locator::Css("#provider-down")).await.unwrap().is_empty(), "PesaVoucher answers");

        wait_for(&c, "#tab-giftpesa").await.click().await.unwrap();
        let banner = text(&c, "#provider-down[data-provider='giftpesa']").await;
        assert!(banner.starts_with("GiftPesa cannot be reached: check this till's internet connection"), "{banner}");
        assert!(banner.contains("(since "), "{banner}");
        screenshot(&c, "provider-down.png").await;

        wait_for(&c, "#tab-telesend").await.click().await.unwrap();
        wait_for(&c, "#telesend-panel").await;
        assert!(c.find_all(Locator::Css("#provider-down")).await.unwrap().is_empty());

        // The back office says it too, where a manager would pay out (BitPesa).
        open_back_office(&c, PIN).await;
        press(&c, "\u{E00A}7").await;
        let banner = text(&c, "#provider-down[data-provider='bitpesa']").await;
        assert!(banner.starts_with("BitPesa cannot be reached"), "{banner}");
        c.close().await.unwrap();
    })
    .await
}

/// A Pesapal checkout: the payment page opens in its own window that can
/// call no command, the QR code is on the cashier screen, paying in the
/// window ends on the success screen, and a declined card says so plainly.
#[tokio::test]
async fn a_pesapal_checkout_is_paid_in_a_window_without_ipc() {
    deadline(async {
        let till = Till::new("environment = \"training\"\n\n[receipt]\nprint = false\n");
        let driver = Driver::start();
        let c = driver.open(&till).await;
        create_first_manager(&c, "Wanjiru").await;
        let main = c.window().await.unwrap();
        wait_for(&c, "#tab-pesapal").await.click().await.unwrap();
        wait_for(&c, "#pesapal-panel[data-step='form']").await;
        wait_for(&c, "#pp-amount").await.send_keys("1500").await.unwrap();
        wait_for(&c, "#pp-description").await.send_keys("Shoes").await.unwrap();
        wait_for(&c, "#pp-phone").await.send_keys("0723456456").await.unwrap();
        wait_for(&c, "#pp-phone").await.send_keys("\u{E039}").await.unwrap();
        wait_for(&c, "#pesapal-panel[data-step='waiting']").await;
        let cells = c.find_all(Locator::Css("#pp-qr rect")).await.unwrap();
        assert!(cells.len() > 100, "a QR code is drawn ({} cells)", cells.len());
        screenshot(&c, "pesapal-waiting.png").await;

        // The checkout window: a remote page with no access to any command.
        let checkout = eventually("the checkout window to open", || async {
            c.windows().await.unwrap().into_iter().find(|h| *h != main)
        })
        .await;
        c.switch_to_window(checkout).await.unwrap();
        wait_for(&c, "#pay").await;
        let ipc = c
            .execute_async(
                "const done = arguments[arguments.length - 1];
             const internals = window.__TAURI_INTERNALS__;
             if (!internals || typeof internals.invoke !== 'function') { done('no internals'); return; }
             internals.invoke('app_info').then(() => done('ALLOWED'), (e) => done('denied: ' + e));",
                vec![],
            )
            .await
            .unwrap();
        let ipc = ipc.as_str().unwrap_or_default().to_string();
        assert!(!ipc.contains("ALLOWED"), "the checkout page reached a command: {ipc}");
        follow_link(&c, "#pay").await;

        // Paying lands on the callback URL, which the app catches: the window
        // closes and the cashier screen shows the payment.
        c.switch_to_window(main.clone()).await.unwrap();
        wait_for(&c, "#redeem-success").await;
        assert_eq!(text(&c, "#success-message").await, "KES 1,500.00 paid: hand over the goods");
        assert!(!text(&c, "#pp-confirmation").await.is_empty());
        screenshot(&c, "pesapal-success.png").await;
        let handles = c.windows().await.unwrap();
        assert_eq!(handles.len(), 1, "the checkout window closed");

        // The next customer's card is declined: a clear message, and the form back.
        wait_for(&c, "#next-customer").await.click().await.unwrap();
        wait_for(&c, "#pesapal-panel[data-step='form']").await;
        wait_for(&c, "#pp-amount").await.send_keys("90").await.unwrap();
        wait_for(&c, "#pp-description").await.send_keys("Bread").await.unwrap();
        wait_for(&c, "#pp-email").await.send_keys("mteja@example.com\u{E039}").await.unwrap();
        wait_for(&c, "#pesapal-panel[data-step='waiting']").await;
        let checkout = eventually("the second checkout window", || async {
            c.windows().await.unwrap().into_iter().find(|h| *h != main)
        })
        .await;
        c.switch_to_window(checkout).await.unwrap();
        follow_link(&c, "#fail").await;
        c.switch_to_window(main.clone()).await.unwrap();
        wait_for(&c, "#pp-error[data-code='payment_failed']").await;
        assert!(text(&c, "#pp-error").await.contains("Payment failed"));
        c.close().await.unwrap();
        drop(driver);
        let db = till.db();
        let rows: Vec<(String, String)> = db
            .prepare("SELECT state, operation FROM transactions ORDER BY created_at")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, [("completed".into(), "checkout".into()), ("failed".into(), "checkout".into())]);
        eprintln!("checkout page IPC probe: {ipc}");
    })
    .await
}

/// Types `keys` into the element at `css`.
async fn type_into(c: &Client, css: &str, keys: &str) {
    wait_for(c, css).await.send_keys(keys).await.unwrap();
}

/// Presses keys wherever the focus is, as a person at the keyboard does.
async fn press(c: &Client, keys: &str) {
    c.active_element().await.unwrap().send_keys(keys).await.unwrap();
}

/// F3, then the manager's PIN in the approval dialog: the back office opens.
async fn open_back_office(c: &Client, pin: &str) {
    press(c, "\u{E033}").await;
    type_into(c, "#manager-pin-input", &format!("{pin}\u{E007}")).await;
    wait_for(c, "#back-office").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_manager_adds_a_cashier_and_sends_a_refund_from_the_back_office() {
    deadline(async {
        let till = Till::new("store_name = \"Duka la Mama Njeri\"\n[receipt]\nprint = false\n");
        let driver = Driver::start();
        let c = driver.open(&till).await;
        // A new till asks for its first manager before anything else.
        wait_for(&c, "#pin-confirm").await;
        screenshot(&c, "first-run.png").await;
        create_first_manager(&c, "Njeri").await;

        // A wrong PIN keeps the back office shut, and says how many tries are left.
        press(&c, "\u{E033}").await;
        assert_eq!(wait_for(&c, "#manager-name").await.prop("value").await.unwrap().as_deref(), Some("Njeri"));
        type_into(&c, "#manager-pin-input", "0000\u{E007}").await;
        assert!(text(&c, "#manager-pin-error").await.contains("4 more tries"));
        type_into(&c, "#manager-pin-input", "\u{E00C}").await;
        assert!(c.find(Locator::Css("#back-office")).await.is_err());
        open_back_office(&c, PIN).await;
        assert_eq!(text(&c, "#back-office-manager").await, "Njeri");

        // Shifts (Alt+3): open one before the day's business.
        wait_for(&c, "#bo-tab-shifts").await.click().await.unwrap();
        wait_for(&c, "#shift-open").await.click().await.unwrap();
        assert!(text(&c, "#shift-current.open").await.contains("Njeri"));

        // Staff (Alt+5): add a cashier.
        wait_for(&c, "#bo-tab-staff").await.click().await.unwrap();
        type_into(&c, "#staff-name", "Juma").await;
        type_into(&c, "#staff-pin", "1357").await;
        type_into(&c, "#staff-pin-confirm", "1357\u{E007}").await;
        assert!(text(&c, "#staff-notice").await.contains("Juma can now sign in as cashier"));
        assert!(text(&c, "#staff-rows").await.contains("Juma"));
        screenshot(&c, "back-office-staff.png").await;

        // Refund voucher: review, then send; the amount and reference come back.
        wait_for(&c, "#bo-tab-refund").await.click().await.unwrap();
        type_into(&c, "#refund-email", "amina@example.com").await;
        type_into(&c, "#refund-amount", "750\u{E007}").await;
        wait_for(&c, "#refund-send").await.click().await.unwrap();
        let result = text(&c, "#refund-result").await;
        assert!(result.contains("KES 750.00 refund voucher sent"), "{result}");
        screenshot(&c, "back-office-refund.png").await;

        // Close the shift (press twice): the Z report counts the refund and is saved as a PDF.
        wait_for(&c, "#bo-tab-shifts").await.click().await.unwrap();
        let close = wait_for(&c, "#shift-close").await;
        close.click().await.unwrap();
        close.click().await.unwrap();
        let report = text(&c, "#shift-report").await;
        assert!(report.contains("KES 750.00"), "{report}");
        let pdf = text(&c, "#shift-pdf-path").await;
        assert!(std::path::Path::new(&pdf).is_file(), "{pdf}");
        // The close backed the database up, checked, into the data dir's backups/.
        let backed_up = text(&c, "#shift-backup").await;
        let copy = backed_up.strip_prefix("Backed up to ").unwrap_or_else(|| panic!("{backed_up}"));
        assert!(copy.contains("/backups/kaunta-") && std::path::Path::new(copy).is_file(), "{copy}");
        screenshot(&c, "back-office-z-report.png").await;

        // Reprint Z on the closed shift: a copy beside the original, marked REPRINT.
        wait_for(&c, "button[data-reprint]").await.click().await.unwrap();
        let copy = text(&c, "#shift-reprint-path").await;
        assert!(copy.ends_with("-z-reprint-1.pdf") && std::path::Path::new(&copy).is_file(), "{copy}");
        assert!(text(&c, "#shift-reprint-result").await.contains("Z report reprinted"));

        // Esc closes the back office and ends the approval; sign out, sign in as the cashier.
        press(&c, "\u{E00C}").await;
        wait_for(&c, "#sign-out").await.click().await.unwrap();
        type_into(&c, "#cashier-input", "juma").await;
        type_into(&c, "#pin-input", "1357\u{E007}").await;
        assert_eq!(text(&c, "#cashier-name").await, "Juma");
        // A cashier's own PIN does not open the back office.
        press(&c, "\u{E033}").await;
        assert_eq!(wait_for(&c, "#manager-name").await.prop("value").await.unwrap().as_deref(), Some(""));
        type_into(&c, "#manager-name", "Juma").await;
        type_into(&c, "#manager-pin-input", "1357\u{E007}").await;
        assert!(text(&c, "#manager-pin-error").await.contains("Only a manager"));

        c.close().await.unwrap();
        drop(driver);

        let db = till.db();
        let (operation, state, amount, cashier): (String, String, i64, String) = db
            .query_row("SELECT operation, state, amount_minor, cashier FROM transactions", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .unwrap();
        assert_eq!(
            (operation.as_str(), state.as_str(), amount, cashier.as_str()),
            ("create_voucher", "completed", 75_000, "Njeri")
        );
        let events = till.audit_events();
        for expected in [
            "staff_added",
            "manager_pin",
            "sign_in",
            "sign_out",
            "redeem_outcome",
            "shift_opened",
            "shift_closed",
            "shift_report_reprinted",
            "backup_made",
        ] {
            assert!(events.iter().any(|e| e == expected), "{expected} missing from {events:?}");
        }
        assert_eq!(till.run(&["audit", "verify"]).status.code(), Some(0));
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_manager_filters_history_exports_a_csv_and_sees_a_tampered_log() {
    deadline(async {
        let till = Till::new("[receipt]\nprint = false\n");
        let driver = Driver::start();
        let c = driver.open(&till).await;
        create_first_manager(&c, "Amina").await;
        for code in ["TRN-ACTIVE-1200", "TRN-PRACTICE-77"] {
            scan(&c, code).await;
            wait_for(&c, "#voucher-status[data-state='valid']").await;
            press(&c, "\u{E039}").await;
            wait_for(&c, "#redeem-success").await;
            wait_for(&c, "#next-customer").await.click().await.unwrap();
        }

        // History: today's business, two rows, totals and the chart.
        open_back_office(&c, PIN).await;
        wait_for(&c, "#history-apply").await.click().await.unwrap();
        wait_for(&c, "#history-rows tr[data-id]:nth-of-type(2)").await;
        assert!(text(&c, "#history-totals").await.contains("KES 1,700.50"), "{}", text(&c, "#history-totals").await);
        wait_for(&c, "#history-chart canvas").await;
        // A filter that matches one of them.
        wait_for(&c, "#history-search").await.send_keys("1200\u{E007}").await.unwrap();
        let rows = eventually("one row for the search", || async {
            let rows = c.find_all(Locator::Css("#history-rows tr[data-id]")).await.unwrap();
            (rows.len() == 1).then_some(rows)
        })
        .await;
        assert!(text(&c, "#history-rows").await.contains("1,200.50"));
        screenshot(&c, "back-office-history.png").await;

        // Enter on a row opens the whole event trail of that transaction.
        rows[0].send_keys("\u{E007}").await.unwrap();
        let events = text(&c, "#history-events").await;
        for event in ["Redeem attempt", "Redeem outcome", "Receipt printed"] {
            assert!(events.contains(event), "{event} missing from {events}");
        }
        wait_for(&c, "#history-detail-close").await.click().await.unwrap();

        // Export the filter to CSV: its rows are the ledger's rows.
        // Backspaces, as a person clears it (WebDriver's clear sends no input event).
        wait_for(&c, "#history-search").await.send_keys("\u{E003}\u{E003}\u{E003}\u{E003}\u{E007}").await.unwrap();
        wait_for(&c, "#history-rows tr[data-id]:nth-of-type(2)").await;
        wait_for(&c, "#history-export").await.click().await.unwrap();
        let path = std::path::PathBuf::from(text(&c, "#history-export-path").await);
        let mut file = csv::Reader::from_path(&path).unwrap();
        let exported: Vec<(String, String, i64, String)> = file
            .deserialize::<std::collections::HashMap<String, String>>()
            .map(|r| {
                let r = r.unwrap();
                (
                    r["transaction_id"].clone(),
                    r["state"].clone(),
                    r["amount_minor"].parse().unwrap(),
                    r["cashier"].clone(),
                )
            })
            .collect();
        std::fs::remove_file(&path).unwrap();
        let db = till.db();
        let mut stmt = db
            .prepare("SELECT id, state, amount_minor, cashier FROM transactions ORDER BY created_at DESC, id DESC")
            .unwrap();
        let ledger: Vec<(String, String, i64, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(exported, ledger);

        // Someone with the file rewrites an audit row: the window names it.
        wait_for(&c, "#bo-tab-audit").await.click().await.unwrap();
        wait_for(&c, "#audit-verify").await.click().await.unwrap();
        assert!(text(&c, "#audit-result.intact").await.starts_with("Intact"));
        db.execute_batch(
            "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET details = 'nothing happened' WHERE seq = 3;",
        )
        .unwrap();
        wait_for(&c, "#audit-verify").await.click().await.unwrap();
        let broken = text(&c, "#audit-result.broken").await;
        assert!(broken.starts_with("Broken at row 3"), "{broken}");
        screenshot(&c, "back-office-audit-broken.png").await;

        c.close().await.unwrap();
        drop(driver);
        let events = till.audit_events();
        for expected in ["history_viewed", "transaction_viewed", "history_exported", "audit_verified"] {
            assert!(events.iter().any(|e| e == expected), "{expected} missing from {events:?}");
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_manager_pays_a_refund_to_mpesa_and_cancels_a_failing_payout() {
    deadline(async {
        let till = Till::new("[receipt]\nprint = false\n");
        let driver = Driver::start();
        let c = driver.open(&till).await;
        create_first_manager(&c, "Njeri").await;
        open_back_office(&c, PIN).await;
        press(&c, "\u{E00A}7").await;
        assert!(text(&c, "#balances [data-currency='KES']").await.contains("KES 500,000.00"));

        let pay = |phone: &'static str| {
            let c = c.clone();
            async move {
                // KES::Mobile is the first corridor: a customer's M-Pesa.
                type_into(&c, "#payout-first_name", "Amina").await;
                type_into(&c, "#payout-last_name", "Wanjiru").await;
                type_into(&c, "#payout-phone_number", phone).await;
                type_into(&c, "#payout-amount", "1500").await;
                type_into(&c, "#payout-reason", "Refund of order 1042\u{E007}").await;
                wait_for(&c, "#payout-send").await.click().await.unwrap();
            }
        };
        pay("+254712345678").await;
        wait_for(&c, "#payout-rows tr[data-state='completed']").await;
        assert!(text(&c, "#balances [data-currency='KES']").await.contains("KES 498,500.00"));
        screenshot(&c, "back-office-payout.png").await;

        // BitPesa cannot pay this number: Cancel appears; the money comes back.
        pay("+254712345619").await;
        wait_for(&c, ".payout-cancel").await.click().await.unwrap();
        wait_for(&c, "#payout-rows tr[data-state='failed']").await;
        assert!(text(&c, "#payout-rows tr[data-state='failed']").await.contains("Cancelled"));
        assert!(text(&c, "#balances [data-currency='KES']").await.contains("KES 498,500.00"));

        c.close().await.unwrap();
        drop(driver);
        let events = till.audit_events();
        assert!(events.iter().any(|e| e.starts_with("payout")), "{events:?}");
        assert_eq!(till.run(&["audit", "verify"]).status.code(), Some(0));
    })
    .await
}
