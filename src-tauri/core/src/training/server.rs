//! The simulators' HTTP server. Connections are served one by one through
//! hyper so that a fault can close a connection without answering, the way
//! a real network drops one.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use url::Url;

use super::bitpesa::BitPesaSim;
use super::faults::{Fault, FaultBoard};
use super::giftpesa::GiftPesaSim;
use super::pesapal::PesapalSim;
use super::pesavoucher::PesaVoucherSim;
use super::prefix;
use super::telesend::TelesendSim;
use crate::providers::ProviderId;

/// Closes the connection it was handed to, without a response.
#[derive(Clone)]
pub(crate) struct ConnectionKill(Arc<Mutex<Option<oneshot::Sender<()>>>>);

impl ConnectionKill {
    pub(crate) fn fire(&self) {
        if let Some(tx) = self.0.lock().unwrap().take() {
            let _ = tx.send(());
        }
    }
}

/// Runs one request through its fault, if any. `apply` performs the
/// operation and builds the normal answer.
pub(crate) async fn faulted(
    board: &FaultBoard,
    endpoint: &str,
    kill: &ConnectionKill,
    apply: impl FnOnce() -> Response,
) -> Response {
    use axum::http::{StatusCode, header};
    let Some(fault) = board.arrive(endpoint) else {
        return apply();
    };
    let status = |s: u16| StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match fault {
        Fault::Latency { ms } => {
            // Simulated provider latency, not test synchronisation.
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            apply()
        }
        Fault::Status { status: s } => {
            let message = status(s).canonical_reason().unwrap_or("Internal server error");
            (status(s), Json(serde_json::json!({"success": false, "error": message}))).into_response()
        }
        Fault::StatusAfterApply { status: s } => {
            let _ = apply();
            let message = status(s).canonical_reason().unwrap_or("Internal server error");
            (status(s), Json(serde_json::json!({"success": false, "error": message}))).into_response()
        }
        Fault::RateLimited { retry_after } => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, retry_after.to_string())],
            Json(serde_json::json!({"success": false, "error": "Too many requests"})),
        )
            .into_response(),
        Fault::MalformedJson => {
            let _ = apply();
            (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], "{\"success\": true, \"redemp").into_response()
        }
        Fault::HtmlErrorPage { status: s } => (
            status(s),
            [(header::CONTENT_TYPE, "text/html")],
            "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>",
        )
            .into_response(),
        Fault::DropBeforeApply => {
            kill.fire();
            std::future::pending().await
        }
        Fault::DropAfterApply => {
            let _ = apply();
            kill.fire();
            std::future::pending().await
        }
        Fault::HangAfterApply => {
            let _ = apply();
            std::future::pending().await
        }
        Fault::HangBeforeApply => std::future::pending().await,
    }
}

/// Every provider simulator on one loopback port.
pub struct Simulators {
    addr: SocketAddr,
    pub pesavoucher: Arc<PesaVoucherSim>,
    pub telesend: Arc<TelesendSim>,
    pub giftpesa: Arc<GiftPesaSim>,
    pub pesapal: Arc<PesapalSim>,
    pub bitpesa: Arc<BitPesaSim>,
    shutdown: Option<oneshot::Sender<()>>,
}

#[derive(Deserialize)]
struct FaultRequest {
    endpoint: String,
    fault: Fault,
}

#[derive(Deserialize)]
struct WaitQuery {
    provider: ProviderId,
    endpoint: String,
    count: u64,
}

#[derive(Clone)]
struct Control {
    pesavoucher: Arc<PesaVoucherSim>,
    telesend: Arc<TelesendSim>,
    giftpesa: Arc<GiftPesaSim>,
    pesapal: Arc<PesapalSim>,
    bitpesa: Arc<BitPesaSim>,
}

impl Control {
    fn board(&self, provider: ProviderId) -> &FaultBoard {
        match provider {
            ProviderId::PesaVoucher => &self.pesavoucher.faults,
            ProviderId::Telesend => &self.telesend.faults,
            ProviderId::GiftPesa => &self.giftpesa.faults,
            ProviderId::Pesapal => &self.pesapal.faults,
            ProviderId::BitPesa => &self.bitpesa.faults,
        }
    }
}

#[derive(Deserialize)]
struct ProviderQuery {
    provider: ProviderId,
}

impl Simulators {
    /// Binds `127.0.0.1:port` (0 picks a free port) and serves until dropped.
    pub async fn start(port: u16) -> std::io::Result<Simulators> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let pesavoucher = Arc::new(PesaVoucherSim::with_samples());
        let telesend = Arc::new(TelesendSim::with_samples());
        let giftpesa = Arc::new(GiftPesaSim::with_samples());
        let pesapal = Arc::new(PesapalSim::with_samples());
        let bitpesa = Arc::new(BitPesaSim::with_samples());
        let control = Control {
            pesavoucher: pesavoucher.clone(),
            telesend: telesend.clone(),
            giftpesa: giftpesa.clone(),
            pesapal: pesapal.clone(),
            bitpesa: bitpesa.clone(),
        };
        let router = Router::new()
            .route("/__sim/faults", post(inject).delete(clear))
            .route("/__sim/received", get(received))
            .route("/__sim/wait", get(wait))
            .route("/__sim/pesavoucher/redemptions", get(pv_redemptions))
            .route("/__sim/telesend/redemptions", get(ts_redemptions))
            .route("/__sim/telesend/sms", get(ts_sms))
            .route("/__sim/giftpesa/redemptions", get(gp_redemptions))
            .with_state(control)
            .nest(prefix(ProviderId::PesaVoucher), super::pesavoucher::routes(pesavoucher.clone()))
            .nest(prefix(ProviderId::Telesend), super::telesend::routes(telesend.clone()))
            .nest(prefix(ProviderId::GiftPesa), super::giftpesa::routes(giftpesa.clone()))
            .nest(prefix(ProviderId::Pesapal), super::pesapal::routes(pesapal.clone()))
            .nest("/__sim/pesapal", super::pesapal::control_routes(pesapal.clone()))
            .nest(prefix(ProviderId::BitPesa), super::bitpesa::routes(bitpesa.clone()))
            .nest("/__sim/bitpesa", super::bitpesa::control_routes(bitpesa.clone()));
        let (tx, mut rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = &mut rx => break,
                    accepted = listener.accept() => accepted,
                };
                let Ok((stream, _)) = accepted else { continue };
                let (kill_tx, kill_rx) = oneshot::channel();
                let kill = ConnectionKill(Arc::new(Mutex::new(Some(kill_tx))));
                let service = TowerToHyperService::new(router.clone().layer(Extension(kill)));
                tokio::spawn(async move {
                    let conn =
                        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                    // Dropping the connection future closes the socket unanswered.
                    tokio::select! {
                        _ = conn => {}
                        _ = kill_rx => {}
                    }
                });
            }
        });
        Ok(Simulators { addr, pesavoucher, telesend, giftpesa, pesapal, bitpesa, shutdown: Some(tx) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn base_url(&self, provider: ProviderId) -> Url {
        Url::parse(&format!("http://{}{}", self.addr, prefix(provider))).expect("loopback URL")
    }
}

impl Drop for Simulators {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

async fn inject(
    State(c): State<Control>,
    Query(q): Query<ProviderQuery>,
    Json(f): Json<FaultRequest>,
) -> impl IntoResponse {
    c.board(q.provider).inject(&f.endpoint, f.fault);
    Json(serde_json::json!({"queued": true}))
}

async fn clear(State(c): State<Control>, Query(q): Query<ProviderQuery>) -> impl IntoResponse {
    c.board(q.provider).clear();
    Json(serde_json::json!({"cleared": true}))
}

async fn received(State(c): State<Control>, Query(q): Query<ProviderQuery>) -> impl IntoResponse {
    Json(c.board(q.provider).received())
}

/// Long-polls until the endpoint has seen `count` requests (at most 60 s).
async fn wait(State(c): State<Control>, Query(q): Query<WaitQuery>) -> Response {
    let waited =
        tokio::time::timeout(std::time::Duration::from_secs(60), c.board(q.provider).wait_for(&q.endpoint, q.count))
            .await;
    match waited {
        Ok(()) => Json(c.board(q.provider).received()).into_response(),
        Err(_) => axum::http::StatusCode::REQUEST_TIMEOUT.into_response(),
    }
}

async fn pv_redemptions(State(c): State<Control>) -> impl IntoResponse {
    Json(c.pesavoucher.redemption_counts())
}

async fn ts_redemptions(State(c): State<Control>) -> impl IntoResponse {
    Json(c.telesend.redemption_counts())
}

#[derive(Deserialize)]
struct SmsQuery {
    voucher: String,
}

/// The SMS code a Telesend customer would have received: training mode shows
/// it on screen, since no phone receives it.
async fn ts_sms(State(c): State<Control>, Query(q): Query<SmsQuery>) -> Response {
    match c.telesend.sms_code(&q.voucher) {
        Some(code) => Json(serde_json::json!({"verification_code": code})).into_response(),
        None => axum::http::StatusCode::NOT_FOUND.into_response(),
    }
}

async fn gp_redemptions(State(c): State<Control>) -> impl IntoResponse {
    Json(c.giftpesa.redemption_counts())
}
