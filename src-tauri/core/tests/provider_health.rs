//! Per-provider status (DESIGN.md invariant 10): a probe finds each
//! provider up, unreachable (nothing listens) or not answering (it listens
//! but says nothing), and records when that began.

mod support;

use std::time::Duration;

use kaunta_core::config::ProviderConfig;
use kaunta_core::health::{HealthBoard, ProviderHealth, Reach};
use kaunta_core::providers::ProviderId;

fn of(board: &HealthBoard, provider: &str) -> ProviderHealth {
    board.snapshot().into_iter().find(|h| h.provider == provider).unwrap()
}

#[tokio::test]
async fn every_simulator_answers_so_every_provider_is_up() {
    let t = support::till().await;
    let board = HealthBoard::default();
    assert!(t.till.check_providers(&board, Duration::from_secs(5)).await, "unknown -> up is a change");
    for h in board.snapshot() {
        assert_eq!(h.reach, Reach::Up, "{h:?}");
        assert!(h.message.is_none());
    }
    assert!(!t.till.check_providers(&board, Duration::from_secs(5)).await, "still up: no change");
}

#[tokio::test]
async fn a_provider_nobody_listens_for_is_down_and_the_others_are_not() {
    // A port that was free a moment ago and is closed now: connecting is refused.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let t = support::till_with(|c| {
        c.providers.insert(
            ProviderId::GiftPesa,
            ProviderConfig { base_url: Some(format!("http://{dead}/api")), ..Default::default() },
        );
    })
    .await;
    let board = HealthBoard::default();
    t.till.check_providers(&board, Duration::from_secs(5)).await;
    let down = of(&board, "giftpesa");
    assert_eq!(down.reach, Reach::Down);
    let message = down.message.unwrap();
    assert!(message.starts_with("GiftPesa cannot be reached"), "{message}");
    assert!(!message.contains(&dead.port().to_string()), "no address for a cashier: {message}");
    assert!(down.since.is_some());
    for other in ["pesavoucher", "telesend", "pesapal", "bitpesa"] {
        assert_eq!(of(&board, other).reach, Reach::Up, "{other}");
    }
}

#[tokio::test]
async fn a_provider_that_listens_but_never_answers_is_down_within_the_timeout() {
    // Connections complete in the kernel's backlog; nobody ever reads them.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let t = support::till_with(|c| {
        c.providers.insert(
            ProviderId::Pesapal,
            ProviderConfig { base_url: Some(format!("http://{addr}/v3")), ..Default::default() },
        );
    })
    .await;
    let board = HealthBoard::default();
    t.till.check_providers(&board, Duration::from_millis(300)).await;
    let h = of(&board, "pesapal");
    assert_eq!(h.reach, Reach::Down);
    assert!(h.message.unwrap().starts_with("Pesapal is not answering"));
    assert_eq!(of(&board, "telesend").reach, Reach::Up, "one silent provider does not hold the others");
    drop(silent);
}
