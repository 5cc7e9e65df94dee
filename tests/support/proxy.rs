//! A TCP proxy on loopback that cuts connections at random points of the
//! byte stream, for chaos tests and the chaos benchmark.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

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

/// A TCP proxy on 127.0.0.1 in front of `upstream`.
pub struct Proxy {
    pub addr: SocketAddr,
    cuts: Arc<AtomicU64>,
    max_cuts: u64,
}

impl Proxy {
    /// How many connections were cut.
    pub fn cuts(&self) -> u64 {
        self.cuts.load(Ordering::SeqCst).min(self.max_cuts)
    }
}

/// Forwards 127.0.0.1 connections to `upstream`, cutting each one after a
/// random number of client bytes (uniform in 1..2*mean_bytes) until
/// `max_cuts` cuts were made; `max_cuts` 0 forwards faithfully.
pub async fn start_proxy(upstream: SocketAddr, seed: u64, mean_bytes: u64, max_cuts: u64) -> Proxy {
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
            let limit = if proxy_cuts.load(Ordering::SeqCst) < max_cuts {
                Some(1 + rng.lock().unwrap().below(2 * mean_bytes))
            } else {
                None
            };
            tokio::spawn(forward(client, server, limit, proxy_cuts.clone(), max_cuts));
        }
    });
    Proxy {
        addr,
        cuts,
        max_cuts,
    }
}

/// Copies both ways; after `limit` client bytes, drops both sockets.
async fn forward(
    client: TcpStream,
    server: TcpStream,
    limit: Option<u64>,
    cuts: Arc<AtomicU64>,
    max_cuts: u64,
) {
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
                && cuts.fetch_add(1, Ordering::SeqCst) < max_cuts
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
