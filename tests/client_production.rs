//! The path production users take, on 127.0.0.1: TLS to the service (a TLS
//! front with a throwaway CA before the emulator, which requires a bearer
//! token) and tokens from a service account key, exchanged at a local token
//! endpoint that checks the signed assertion. Each defect fixed on this path
//! has a test here that failed before the fix.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bqwrite::{BqRow, Client, ClientBuilder, ErrorKind, RetryPolicy, Table, Writer};
use bqwrite_emulator::Emulator;
use support::tls::{TestCa, TlsFront, start_tls_front};
use support::tokens::{CLIENT_EMAIL, TokenServer};
use support::{DATASET, PROJECT, bounded, child};

#[derive(Debug, Clone, BqRow)]
struct Event {
    id: i64,
    name: Option<String>,
}

fn events(range: std::ops::Range<i64>) -> Vec<Event> {
    range
        .map(|id| Event {
            id,
            name: Some(format!("event {id}")),
        })
        .collect()
}

const TABLE: &str = "events";

/// A token endpoint, an emulator that checks its tokens, and a TLS front.
struct Production {
    ca: TestCa,
    tokens: TokenServer,
    emulator: Emulator,
    front: TlsFront,
    dir: PathBuf,
}

impl Production {
    /// Everything signed by one CA; tokens live `lifetime`.
    async fn start(name: &str, lifetime: Duration) -> Self {
        let ca = TestCa::new("bqwrite test CA");
        Self::start_with_front_ca(name, lifetime, ca, None).await
    }

    /// The front's certificate from `front_ca` when given, else from `ca`.
    async fn start_with_front_ca(
        name: &str,
        lifetime: Duration,
        ca: TestCa,
        front_ca: Option<&TestCa>,
    ) -> Self {
        let dir = test_dir(name);
        let tokens = TokenServer::start(&ca, lifetime).await;
        let emulator = Emulator::builder()
            .project(PROJECT)
            .require_bearer_token(tokens.checker())
            .start()
            .await
            .unwrap();
        emulator.create_dataset(PROJECT, DATASET).unwrap();
        emulator
            .create_table(&table_path(), Event::table_schema())
            .unwrap();
        let front = start_tls_front(emulator.grpc_addr(), front_ca.unwrap_or(&ca)).await;
        tokens.write_key_file(&dir.join("key.json"));
        Self {
            ca,
            tokens,
            emulator,
            front,
            dir,
        }
    }

    fn key_file(&self) -> PathBuf {
        self.dir.join("key.json")
    }

    /// A client of the front with the key file, trusting the test CA.
    fn builder(&self) -> ClientBuilder {
        Client::builder()
            .endpoint(self.front.url())
            .root_certificate(&self.ca.pem)
            .credentials_file(self.key_file())
            .retry_policy(RetryPolicy::default().initial_backoff(Duration::from_millis(10)))
    }

    fn ids(&self) -> Vec<i64> {
        self.emulator
            .rows(&table_path())
            .unwrap()
            .iter()
            .map(|row| {
                row.to_json()["f"][0]["v"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect()
    }
}

impl Drop for Production {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn table_path() -> String {
    format!("projects/{PROJECT}/datasets/{DATASET}/tables/{TABLE}")
}

fn test_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bqwrite-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes rows 0..100 in two appends, finalizes and commits.
async fn pending_flow(table: &Table) {
    let mut writer = Writer::<Event>::pending(table).await.unwrap();
    writer.append(events(0..50)).await.unwrap();
    writer.append(events(50..100)).await.unwrap();
    let commit = writer.finalize().await.unwrap().commit().await.unwrap();
    assert_eq!(commit.rows(), 100);
}

#[tokio::test]
async fn pending_flow_with_a_key_file() {
    bounded(60, async {
        let env = Production::start("key-file", Duration::from_secs(3600)).await;
        let client = env.builder().build().await.unwrap();
        let debug = format!("{client:?}");
        assert!(debug.contains(CLIENT_EMAIL), "{debug}");
        assert!(debug.contains("key.json"), "{debug}");
        assert!(
            !debug.contains("application default credentials"),
            "{debug}"
        );
        assert!(!debug.contains("test-token"), "{debug}");
        pending_flow(&client.table_from_path(&table_path()).unwrap()).await;
        assert_eq!(env.ids(), (0..100).collect::<Vec<_>>());
        assert_eq!(env.tokens.fetches(), 1, "one token serves every call");
    })
    .await;
}

#[test]
fn pending_flow_with_application_default_credentials() {
    const NAME: &str = "pending_flow_with_application_default_credentials";
    if !child::in_child() {
        // GOOGLE_APPLICATION_CREDENTIALS names the key file and SSL_CERT_FILE
        // the test CA: the child writes both once its servers are up.
        let dir = test_dir("adc");
        let key = dir.join("key.json");
        let ca = dir.join("ca.pem");
        child::run_in_child(
            NAME,
            &[
                ("GOOGLE_APPLICATION_CREDENTIALS", key.as_os_str()),
                ("SSL_CERT_FILE", ca.as_os_str()),
                ("BQWRITE_TEST_DIR", dir.as_os_str()),
            ],
        );
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    let dir = PathBuf::from(std::env::var_os("BQWRITE_TEST_DIR").unwrap());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(bounded(60, async {
        let env = Production::start("adc-child", Duration::from_secs(3600)).await;
        env.ca.write_pem(&dir.join("ca.pem"));
        env.tokens.write_key_file(&dir.join("key.json"));
        // No root certificate and no key file given: both come from the environment.
        let client = Client::builder()
            .endpoint(env.front.url())
            .build()
            .await
            .unwrap();
        let debug = format!("{client:?}");
        assert!(debug.contains("GOOGLE_APPLICATION_CREDENTIALS"), "{debug}");
        pending_flow(&client.table_from_path(&table_path()).unwrap()).await;
        assert_eq!(env.ids(), (0..100).collect::<Vec<_>>());
    }));
}

/// UNAUTHENTICATED is retried with a new token, not the cached one.
#[tokio::test]
async fn a_token_that_expires_mid_write_is_replaced() {
    bounded(60, async {
        let env = Production::start("expiry", Duration::from_secs(3600)).await;
        let client = env.builder().build().await.unwrap();
        let table = client.table_from_path(&table_path()).unwrap();
        let mut writer = Writer::<Event>::pending(&table).await.unwrap();
        writer.append(events(0..10)).await.unwrap();
        // The token stops being accepted and the connection drops: the
        // writer reconnects, is refused, and must come back with a new token.
        env.tokens.expire_all();
        env.emulator.faults().close_after_responses(0);
        writer.append(events(10..20)).await.unwrap();
        assert_eq!(env.tokens.fetches(), 2);
        let finalized = writer.finalize().await.unwrap();
        // A unary call refused the same way.
        env.tokens.expire_all();
        finalized.commit().await.unwrap();
        assert_eq!(env.tokens.fetches(), 3);
        assert_eq!(env.ids(), (0..20).collect::<Vec<_>>());
    })
    .await;
}

/// The refresh follows the token's expiry, not a fixed tick, and does not
/// race the first call.
#[tokio::test]
async fn tokens_are_refreshed_before_they_expire() {
    bounded(60, async {
        let env = Production::start("refresh", Duration::from_secs(2)).await;
        let client = env.builder().build().await.unwrap();
        let table = client.table_from_path(&table_path()).unwrap();
        let mut writer = Writer::<Event>::pending(&table).await.unwrap();
        assert_eq!(
            env.tokens.fetches(),
            1,
            "the first call fetched the only token"
        );
        // With no call at all, tokens are replaced before they expire.
        tokio::time::timeout(Duration::from_secs(10), env.tokens.wait_for_fetches(4))
            .await
            .expect("three background refreshes of a 2 s token within 10 s");
        // Calls find a live token: the emulator refuses expired ones.
        writer.append(events(0..10)).await.unwrap();
        writer.finalize().await.unwrap().commit().await.unwrap();
        assert_eq!(env.ids(), (0..10).collect::<Vec<_>>());
    })
    .await;
}

#[tokio::test]
async fn an_untrusted_certificate_fails_at_once() {
    bounded(60, async {
        let untrusted = TestCa::new("a CA nobody trusts");
        let ca = TestCa::new("bqwrite test CA");
        let env = Production::start_with_front_ca(
            "untrusted",
            Duration::from_secs(3600),
            ca,
            Some(&untrusted),
        )
        .await;
        let client = env.builder().build().await.unwrap();
        let table = client.table_from_path(&table_path()).unwrap();
        let started = Instant::now();
        let err = Writer::<Event>::pending(&table).await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
        let text = err.to_string();
        assert!(text.contains("is not trusted"), "{text}");
        assert!(text.contains("UnknownIssuer"), "{text}");
        assert!(text.contains("permanent"), "{text}");
        assert!(text.contains(&env.front.url()), "{text}");
        assert_eq!(
            env.front.handshakes(),
            1,
            "no retry of a certificate failure"
        );
        println!("{text}");
    })
    .await;
}

/// A certificate rotated to one the client does not trust, after a
/// connection worked: still permanent, not an outage to retry.
#[tokio::test]
async fn a_certificate_failure_after_a_connection_worked_is_not_retried() {
    bounded(60, async {
        let mut env = Production::start("rotated", Duration::from_secs(3600)).await;
        let client = env.builder().build().await.unwrap();
        let table = client.table_from_path(&table_path()).unwrap();
        let mut writer = Writer::<Event>::pending(&table).await.unwrap();
        writer.append(events(0..10)).await.unwrap();
        env.front.use_ca(&TestCa::new("a CA nobody trusts"));
        env.emulator.restart().await.unwrap();
        let before = env.front.handshakes();
        let started = Instant::now();
        let err = writer.append(events(10..20)).await.unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
        assert!(err.to_string().contains("is not trusted"), "{err}");
        assert_eq!(
            env.front.handshakes(),
            before + 1,
            "no retry of a certificate failure"
        );
        assert_eq!(err.acknowledged_rows(), Some(10), "{err}");
    })
    .await;
}

#[tokio::test]
async fn a_refusing_token_endpoint_is_reported_with_its_reason() {
    bounded(60, async {
        let env = Production::start("refused", Duration::from_secs(3600)).await;
        env.tokens.refuse(true);
        let client = env.builder().build().await.unwrap();
        let table = client.table_from_path(&table_path()).unwrap();
        let err = Writer::<Event>::pending(&table).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
        let text = err.to_string();
        for part in [
            "401",
            "invalid_grant",
            "Invalid JWT Signature.",
            CLIENT_EMAIL,
        ] {
            assert!(text.contains(part), "`{part}` missing from: {text}");
        }
        assert!(text.contains(&env.tokens.token_uri), "{text}");
        println!("{text}");
    })
    .await;
}

#[tokio::test]
async fn an_untrusted_token_endpoint_is_named() {
    bounded(60, async {
        let env = Production::start("token-tls", Duration::from_secs(3600)).await;
        // The client trusts neither the token endpoint nor the front.
        let client = Client::builder()
            .endpoint(env.front.url())
            .credentials_file(env.key_file())
            .build()
            .await
            .unwrap();
        let table = client.table_from_path(&table_path()).unwrap();
        let err = Writer::<Event>::pending(&table).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
        let text = err.to_string();
        assert!(text.contains(&env.tokens.token_uri), "{text}");
        assert!(text.contains("UnknownIssuer"), "{text}");
    })
    .await;
}

#[tokio::test]
async fn a_root_certificate_must_be_pem() {
    let env = Production::start("bad-root", Duration::from_secs(3600)).await;
    let err = env
        .builder()
        .root_certificate("not a certificate")
        .build()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    assert!(err.to_string().contains("root certificate"), "{err}");
}
