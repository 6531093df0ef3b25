//! The Pesapal checkout window. It shows a remote page, so it gets no
//! capability (capabilities/main.json names only the main window): the
//! page can call no command. Its navigation to our callback URL is caught
//! here, never loaded; the window closes and the main window is told, so
//! it asks Pesapal for the status at once (the callback carries none).

use tauri::Url;
use tauri::{AppHandle, Emitter, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};

pub const LABEL: &str = "checkout";
pub const CALLBACK_EVENT: &str = "pesapal-callback";

/// True when `url` is the callback page (any query): same origin and path.
pub fn is_callback(url: &Url, callback: &Url) -> bool {
    url.scheme() == callback.scheme()
        && url.host_str() == callback.host_str()
        && url.port_or_known_default() == callback.port_or_known_default()
        && url.path().trim_end_matches('/') == callback.path().trim_end_matches('/')
}

#[derive(Clone, serde::Serialize)]
pub struct CallbackEvent {
    pub transaction_id: String,
    pub url: String,
}

/// Opens (or replaces) the checkout window on `redirect_url`.
pub fn open<R: Runtime>(app: &AppHandle<R>, transaction_id: &str, redirect: Url, callback: Url) -> tauri::Result<()> {
    close(app);
    let handle = app.clone();
    let transaction_id = transaction_id.to_string();
    WebviewWindowBuilder::new(app, LABEL, WebviewUrl::External(redirect))
        .title("Pesapal checkout")
        .inner_size(520.0, 760.0)
        .on_navigation(move |url| {
            if !is_callback(url, &callback) {
                return true;
            }
            let event = CallbackEvent { transaction_id: transaction_id.clone(), url: url.to_string() };
            let _ = handle.emit_to("main", CALLBACK_EVENT, event);
            // Closing from inside the navigation handler would re-enter the
            // webview; let the event loop do it.
            let h = handle.clone();
            let _ = handle.run_on_main_thread(move || close(&h));
            false
        })
        .build()?;
    Ok(())
}

pub fn close<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window(LABEL) {
        let _ = window.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_callback_page_is_caught() {
        let cb = Url::parse("http://127.0.0.1:4000/pesapal/callback").unwrap();
        let yes =
            Url::parse("http://127.0.0.1:4000/pesapal/callback?OrderTrackingId=x&OrderMerchantReference=y").unwrap();
        assert!(is_callback(&yes, &cb));
        for no in [
            "http://127.0.0.1:4001/pesapal/callback",
            "https://127.0.0.1:4000/pesapal/callback",
            "http://127.0.0.1:4000/pesapal/callback/evil",
            "http://evil.example/pesapal/callback",
        ] {
            assert!(!is_callback(&Url::parse(no).unwrap(), &cb), "{no}");
        }
    }
}
