//! A randomized chaos test: a TCP proxy on loopback between the writer and
//! the emulator cuts connections at random points of the byte stream
//! (mid-request included), 1,000 times over a 500,000-row pending write.
//! After commit the table must hold exactly rows 0..500,000, each once.
//!
//! The seed is printed; set `BQWRITE_CHAOS_SEED` to replay a run.

mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bqwrite::{BqRow, Client, RetryPolicy, Writer, WriterOptions};
use support::{Env, bounded};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, BqRow)]
struct Numbered {
    n: i64,
    label: String,
}

const ROWS: i64 = 500_000;
const CUTS: u64 = 1_000;

/// xorshift64*: small, seeded, good enough to place cuts.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Forwards 127.0.0.1 connections to `upstream`, cutting each one after a
/// random number of client bytes until `CUTS` cuts were made.
struct Proxy {
    addr: SocketAddr,
    cuts: Arc<AtomicU64>,
}

async fn start_proxy(upstream: SocketAddr, seed: u64, mean_bytes: u64) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cuts = Arc::new(AtomicU64::new(0));
    let rng = Arc::new(Mutex::new(Rng(seed | 1)));
    let proxy_cuts = cuts.clone();
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            let Ok(server) = TcpStream::connect(upstream).await else {
                continue;
            };
            let limit = if proxy_cuts.load(Ordering::SeqCst) < CUTS {
                Some(1 + rng.lock().unwrap().below(2 * mean_bytes))
            } else {
                None
            };
            tokio::spawn(forward(client, server, limit, proxy_cuts.clone()));
        }
    });
    Proxy { addr, cuts }
}

/// Copies both ways; after `limit` client bytes, drops both sockets.
async fn forward(client: TcpStream, server: TcpStream, limit: Option<u64>, cuts: Arc<AtomicU64>) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = async {
        let mut sent = 0u64;
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if let Some(limit) = limit
                && sent + n as u64 >= limit
                && cuts.fetch_add(1, Ordering::SeqCst) < CUTS
            {
                // Forward part of this chunk, then cut: mid-request.
                let part = (limit - sent) as usize;
                let _ = server_write.write_all(&buf[..part.min(n)]).await;
                return;
            }
            sent += n as u64;
            if server_write.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    let downstream = async {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
    };
    // Either direction ending ends the connection, as a cut does.
    tokio::select! {
        () = upstream => {}
        () = downstream => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_cut_connections_lose_and_duplicate_nothing() {
    bounded(900, async {
        let seed = std::env::var("BQWRITE_CHAOS_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        println!("chaos seed: {seed} (BQWRITE_CHAOS_SEED={seed} replays it)");
        let env = Env::start().await;
        let table = env.table_for::<Numbered>("chaos");
        // About 10 MB of requests: cuts every ~8 KB on average would make
        // far more than 1,000; the proxy stops cutting after 1,000.
        let proxy = start_proxy(env.emulator.grpc_addr(), seed, 8 * 1024).await;
        let client = Client::builder()
            .emulator(proxy.addr.to_string())
            .retry_policy(
                RetryPolicy::default()
                    .max_attempts(50)
                    .initial_backoff(Duration::from_millis(1))
                    .max_backoff(Duration::from_millis(10)),
            )
            .build()
            .await
            .unwrap();
        let table = client.table_from_path(&table.path().to_string()).unwrap();
        let options = WriterOptions::default()
            .max_request_bytes(2 * 1024)
            .max_inflight_requests(2)
            .response_timeout(Duration::from_secs(10))
            .retry_policy(
                RetryPolicy::default()
                    .max_attempts(50)
                    .initial_backoff(Duration::from_millis(1))
                    .max_backoff(Duration::from_millis(10)),
            );
        let mut writer = Writer::<Numbered>::pending_with(&table, options)
            .await
            .unwrap();
        let rows = (0..ROWS).map(|n| Numbered {
            n,
            label: format!("row {n}"),
        });
        let offsets = writer.append(rows).await.unwrap();
        assert_eq!(offsets, 0..ROWS);
        let reconnects = writer.reconnects();
        writer.finalize().await.unwrap().commit().await.unwrap();
        let cuts = proxy.cuts.load(Ordering::SeqCst).min(CUTS);
        println!("faults survived: {cuts} connection cuts, {reconnects} writer reconnects");
        assert_eq!(cuts, CUTS, "the run ended before {CUTS} cuts were made");

        let got: Vec<i64> = env
            .cells("chaos")
            .iter()
            .map(|row| row[0].as_str().unwrap().parse().unwrap())
            .collect();
        assert_eq!(got.len() as i64, ROWS, "row count");
        assert!(
            got.iter().copied().eq(0..ROWS),
            "rows are not exactly 0..{ROWS} in order"
        );
    })
    .await;
}
