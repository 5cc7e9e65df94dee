//! Connecting: a client that never reached its endpoint fails at once with
//! `ErrorKind::Connect`, naming the address and where it came from; once a
//! connection has worked, losing it is an outage and is retried.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bqwrite::client::EMULATOR_HOST_ENV;
use bqwrite::{BqRow, Client, ErrorKind, RetryPolicy, Writer};
use support::{Env, bounded, child};

#[derive(Debug, Clone, BqRow)]
struct Event {
    id: i64,
}

/// An address on 127.0.0.1 where nothing listens: a port bound and released.
fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

#[tokio::test]
async fn nothing_listening_fails_at_once_naming_the_address() {
    bounded(20, async {
        let addr = closed_port();
        let client = Client::emulator(addr.to_string()).unwrap();
        let table = client.table("p", "d", "t").unwrap();
        let started = Instant::now();
        let err = Writer::<Event>::pending(&table).await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
        assert_eq!(
            err.code(),
            None,
            "a connect error has no gRPC code to retry on"
        );
        let text = err.to_string();
        assert!(text.contains(&addr.to_string()), "{text}");
        assert!(
            text.contains("the emulator address given to the client"),
            "{text}"
        );
        assert!(text.contains("refused"), "{text}");
        assert!(!text.contains("retries"), "{text}");
    })
    .await;
}

#[test]
fn an_address_from_the_environment_is_named_with_its_variable() {
    const NAME: &str = "an_address_from_the_environment_is_named_with_its_variable";
    if !child::in_child() {
        let addr = closed_port().to_string();
        child::run_in_child(NAME, &[(EMULATOR_HOST_ENV, addr.as_str())]);
        child::run_in_child(NAME, &[(EMULATOR_HOST_ENV, "localhost")]);
        return;
    }
    let host = std::env::var(EMULATOR_HOST_ENV).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(bounded(20, async {
        if !host.contains(':') {
            let err = Client::from_env().await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config, "{err}");
            let text = err.to_string();
            assert!(text.contains(EMULATOR_HOST_ENV), "{text}");
            assert!(text.contains("has no port"), "{text}");
            return;
        }
        let client = Client::from_env().await.unwrap();
        let table = client.table("p", "d", "t").unwrap();
        let err = Writer::<Event>::pending(&table).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
        let text = err.to_string();
        assert!(text.contains(&host), "{text}");
        assert!(text.contains(EMULATOR_HOST_ENV), "{text}");
    }));
}

#[tokio::test]
async fn a_connection_that_worked_before_is_retried() {
    bounded(30, async {
        let env = Env::start().await;
        let table = env.table_for::<Event>("retried");
        let client = Client::builder()
            .emulator(env.emulator.grpc_addr().to_string())
            .retry_policy(
                RetryPolicy::default()
                    .max_attempts(2)
                    .initial_backoff(Duration::from_millis(10)),
            )
            .build()
            .await
            .unwrap();
        let table = client.table_from_path(&table.path().to_string()).unwrap();
        let mut writer = Writer::<Event>::pending(&table).await.unwrap();
        writer.append([Event { id: 1 }]).await.unwrap();
        env.emulator.shutdown().await;
        let err = writer.finalize().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
        assert!(err.to_string().contains("gave up after 2 retries"), "{err}");
    })
    .await;
}
