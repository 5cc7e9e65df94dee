//! A TCP proxy on loopback that cuts connections at random points of the
//! byte stream, for chaos tests and the chaos benchmark.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The seed of a chaos run: `BQWRITE_CHAOS_SEED`, or the clock; printed
/// with `test`'s name, so that a failed run can be replayed.
pub fn chaos_seed(test: &str) -> u64 {
    let seed = std::env::var("BQWRITE_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("{test}: chaos seed {seed} (BQWRITE_CHAOS_SEED={seed} replays it)");
    seed
}

/// xorshift64*: small, seeded, good enough to place cuts.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value, 0 included).
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// How a chaos proxy misbehaves.
#[derive(Debug, Clone, Copy)]
pub struct Chaos {
    pub seed: u64,
    /// A connection is cut after a random number of client bytes, uniform
    /// in `1..2 * mean_bytes`.
    pub mean_bytes: u64,
    /// No more cuts after this many; 0 forwards faithfully.
    pub max_cuts: u64,
    /// When not 0, one cut in two counts the server's bytes instead
    /// (uniform in `1..2 * mean_answer_bytes`): the cut then falls after
    /// the service read and applied requests, before their answers
    /// arrive, as well as mid-request.
    pub mean_answer_bytes: u64,
}

impl Chaos {
    /// Cuts after client bytes only, as [`start_proxy`] does.
    pub fn new(seed: u64, mean_bytes: u64, max_cuts: u64) -> Self {
        Self {
            seed,
            mean_bytes,
            max_cuts,
            mean_answer_bytes: 0,
        }
    }

    /// Cuts after answer bytes too (one cut in two).
    pub fn answers_too(mut self, mean_answer_bytes: u64) -> Self {
        self.mean_answer_bytes = mean_answer_bytes;
        self
    }
}

/// A TCP proxy on 127.0.0.1 in front of `upstream`.
pub struct Proxy {
    pub addr: SocketAddr,
    cuts: Arc<AtomicU64>,
    connections: Arc<AtomicU64>,
    max_cuts: u64,
}

impl Proxy {
    /// How many connections were cut.
    pub fn cuts(&self) -> u64 {
        self.cuts.load(Ordering::SeqCst).min(self.max_cuts)
    }

    /// How many connections were accepted.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Where a connection is cut: after `limit` bytes of one direction.
#[derive(Debug, Clone, Copy)]
struct Cut {
    limit: u64,
    answers: bool,
}

/// Forwards 127.0.0.1 connections to `upstream`, cutting each one after a
/// random number of client bytes (uniform in 1..2*mean_bytes) until
/// `max_cuts` cuts were made; `max_cuts` 0 forwards faithfully.
pub async fn start_proxy(upstream: SocketAddr, seed: u64, mean_bytes: u64, max_cuts: u64) -> Proxy {
    start_chaos_proxy(upstream, Chaos::new(seed, mean_bytes, max_cuts)).await
}

/// Forwards 127.0.0.1 connections to `upstream`, cutting them as `chaos` says.
pub async fn start_chaos_proxy(upstream: SocketAddr, chaos: Chaos) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cuts = Arc::new(AtomicU64::new(0));
    let connections = Arc::new(AtomicU64::new(0));
    let rng = Arc::new(Mutex::new(Rng::new(chaos.seed)));
    let proxy_cuts = cuts.clone();
    let accepted = connections.clone();
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            let Ok(server) = TcpStream::connect(upstream).await else {
                continue;
            };
            accepted.fetch_add(1, Ordering::SeqCst);
            let cut = if proxy_cuts.load(Ordering::SeqCst) < chaos.max_cuts {
                let mut rng = rng.lock().unwrap();
                let answers = chaos.mean_answer_bytes > 0 && rng.below(2) == 1;
                let mean = if answers {
                    chaos.mean_answer_bytes
                } else {
                    chaos.mean_bytes
                };
                Some(Cut {
                    limit: 1 + rng.below(2 * mean),
                    answers,
                })
            } else {
                None
            };
            let counter = (proxy_cuts.clone(), chaos.max_cuts);
            tokio::spawn(forward(client, server, cut, counter));
        }
    });
    Proxy {
        addr,
        cuts,
        connections,
        max_cuts: chaos.max_cuts,
    }
}

/// Copies both ways; after the cut's bytes, drops both sockets.
async fn forward(
    client: TcpStream,
    server: TcpStream,
    cut: Option<Cut>,
    counter: (Arc<AtomicU64>, u64),
) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let limit = |answers: bool| {
        cut.filter(|c| c.answers == answers)
            .map(|c| (c.limit, &counter))
    };
    // Either direction ending ends the connection, as a cut does.
    tokio::select! {
        () = pump(client_read, server_write, limit(false)) => {}
        () = pump(server_read, client_write, limit(true)) => {}
    }
}

/// Copies `from` to `to` until either ends; with a limit, forwards part of
/// the chunk that reaches it (mid-message), then stops: a cut, while fewer
/// than the most cuts were made.
async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    limit: Option<(u64, &(Arc<AtomicU64>, u64))>,
) {
    let mut sent = 0u64;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if let Some((limit, (cuts, max_cuts))) = limit
            && sent + n as u64 >= limit
            && cuts.fetch_add(1, Ordering::SeqCst) < *max_cuts
        {
            let part = (limit - sent) as usize;
            let _ = to.write_all(&buf[..part.min(n)]).await;
            return;
        }
        sent += n as u64;
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
