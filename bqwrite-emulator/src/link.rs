//! A simulated wide-area link: per-connection latency and bandwidth.
//!
//! Every accepted TCP connection is wrapped in a [`Shaped`] stream. Two
//! pumps, one per direction, carry its bytes between the socket and the
//! server: each chunk read is stamped with the time it arrived, queued for
//! the link (paced at the bandwidth, one chunk after the other) and handed on
//! `latency` after its last byte left the link. The two directions are
//! independent, and a direction is a delay line, not stop-and-wait: while one
//! chunk travels, the next ones follow it, so pipelined data flows at the
//! full bandwidth whatever the latency. The bytes in flight per direction
//! are bounded (twice the bandwidth-delay product, at least 256 KiB; 16 MiB
//! without a bandwidth limit), which back-pressures the sender the way a TCP
//! window does.
//!
//! The pumps of every link run on a thread of their own (`emulator-link`),
//! not on the server's runtime: a link carries bytes on time however busy
//! the server is (checking a large request's rows takes its worker for
//! milliseconds), as a network does. Were they on the server's workers, a
//! pump waiting behind such a task would leave its link idle and the time
//! would be lost, more so the more connections share the workers.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio::net::TcpStream;
use tokio::runtime::Handle;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::Instant;
use tonic::transport::server::{Connected, TcpConnectInfo};

/// The buffer between the server and the pumps.
const DUPLEX_BUFFER: usize = 256 << 10;
/// Bytes in flight per direction without a bandwidth limit.
const UNLIMITED_BUDGET: usize = 16 << 20;
/// The least bytes in flight per direction with a bandwidth limit.
const MIN_BUDGET: usize = 256 << 10;
/// The largest chunk the link carries at once.
const MAX_CHUNK: usize = 64 << 10;
/// The smallest chunk: about one Ethernet frame's payload.
const MIN_CHUNK: usize = 1460;
/// How long the link takes to send one chunk: short next to any latency
/// worth simulating, long next to the timers' millisecond.
const CHUNK_TIME: Duration = Duration::from_millis(4);

/// The simulated link of every connection: one-way latency and bandwidth,
/// each direction on its own.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Link {
    /// The one-way delay of every byte.
    pub latency: Duration,
    /// The bandwidth of each direction in bytes per second; `None`: unlimited.
    pub bytes_per_second: Option<f64>,
}

impl Link {
    /// Whether the link changes anything at all.
    pub(crate) fn is_shaped(&self) -> bool {
        !self.latency.is_zero() || self.bytes_per_second.is_some()
    }

    /// The most bytes in flight per direction (queued or travelling).
    fn budget(&self) -> usize {
        match self.bytes_per_second {
            None => UNLIMITED_BUDGET,
            Some(rate) => {
                let bdp = rate * self.latency.as_secs_f64();
                ((2.0 * bdp) as usize).clamp(MIN_BUDGET, 1 << 30)
            }
        }
    }

    /// How many bytes are read and sent on as one chunk: about
    /// [`CHUNK_TIME`]'s worth, so pacing is smooth and the pumps and the
    /// server wake once per chunk, not once per few bytes.
    fn chunk(&self) -> usize {
        match self.bytes_per_second {
            None => MAX_CHUNK,
            Some(rate) => ((rate * CHUNK_TIME.as_secs_f64()) as usize).clamp(MIN_CHUNK, MAX_CHUNK),
        }
    }
}

/// When chunks leave one direction of the link.
#[derive(Debug)]
struct Pacer {
    link: Link,
    /// When the link has sent everything queued so far.
    free_at: Instant,
}

impl Pacer {
    fn new(link: Link) -> Self {
        Self {
            link,
            free_at: Instant::now(),
        }
    }

    /// When `bytes` arriving at `now` are delivered at the other end: after
    /// the bytes queued before them and their own transmission time at the
    /// bandwidth, plus the latency.
    fn delivery(&mut self, now: Instant, bytes: usize) -> Instant {
        let start = self.free_at.max(now);
        let sent = match self.link.bytes_per_second {
            Some(rate) => start + Duration::from_secs_f64(bytes as f64 / rate),
            None => start,
        };
        self.free_at = sent;
        sent + self.link.latency
    }
}

/// A connection seen through the simulated link; what the server reads and
/// writes instead of the TCP stream.
#[derive(Debug)]
pub(crate) struct Shaped {
    io: DuplexStream,
    info: TcpConnectInfo,
}

/// The runtime of the links' pumps, one thread started on first use and
/// kept for the life of the process (idle, it is parked). One thread, not a
/// pool: a pump's work is a copy and a timer per chunk, and a pool's
/// threads would wake one another for every one of them.
fn pumps() -> io::Result<&'static Handle> {
    static PUMPS: OnceLock<Result<Handle, String>> = OnceLock::new();
    PUMPS
        .get_or_init(start_pumps)
        .as_ref()
        .map_err(|why| io::Error::other(format!("the simulated link cannot start: {why}")))
}

/// Starts the pumps' runtime on a thread that runs it; returns its handle.
fn start_pumps() -> Result<Handle, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("emulator-link".into())
        .spawn(move || {
            let built = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match built {
                Ok(runtime) => {
                    let _ = tx.send(Ok(runtime.handle().clone()));
                    runtime.block_on(std::future::pending::<()>());
                }
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                }
            }
        })
        .map_err(|e| e.to_string())?;
    // The thread answers at once (a runtime is built in microseconds).
    rx.recv().map_err(|e| e.to_string())?
}

/// Wraps an accepted connection in the link: hands the socket to the
/// pumps' runtime, which carries its bytes both ways.
pub(crate) fn shape(tcp: TcpStream, link: Link) -> io::Result<Shaped> {
    let info = TcpConnectInfo {
        local_addr: tcp.local_addr().ok(),
        remote_addr: tcp.peer_addr().ok(),
    };
    let pumps = pumps()?;
    // Off this runtime's reactor, onto the pumps' (still non-blocking).
    let tcp = tcp.into_std()?;
    let (server_end, link_end) = tokio::io::duplex(DUPLEX_BUFFER);
    pumps.spawn(async move {
        // Inside the pumps' runtime, so registered with its reactor; on
        // failure the duplex end drops and the server sees the connection end.
        if let Ok(tcp) = TcpStream::from_std(tcp) {
            carry(tcp, link_end, link).await;
        }
    });
    Ok(Shaped {
        io: server_end,
        info,
    })
}

/// Carries bytes both ways until the connection ends.
async fn carry(tcp: TcpStream, server: DuplexStream, link: Link) {
    let (from_peer, to_peer) = tcp.into_split();
    let (from_server, to_server) = tokio::io::split(server);
    let inbound = one_way(from_peer, to_server, link);
    let outbound = one_way(from_server, to_peer, link);
    tokio::pin!(inbound, outbound);
    tokio::select! {
        // the server closed the connection (or the peer is unreachable):
        // nothing it could still receive matters
        () = &mut outbound => {}
        // the peer closed its side: the server's answers still go out
        () = &mut inbound => outbound.await,
    }
}

/// One direction: reads `from`, delays and paces, writes `to`; shuts `to`
/// down once `from` ends and everything read was delivered.
async fn one_way<R, W>(mut from: R, mut to: W, link: Link)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let budget = Arc::new(Semaphore::new(link.budget()));
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Bytes, OwnedSemaphorePermit)>();
    let chunk = link.chunk();
    let receive = async move {
        let mut pacer = Pacer::new(link);
        loop {
            let mut buf = BytesMut::with_capacity(chunk);
            match from.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let arrived = Instant::now();
                    // chunk <= MAX_CHUNK, so n fits in u32
                    let Ok(permit) = budget.clone().acquire_many_owned(n as u32).await else {
                        return;
                    };
                    let at = pacer.delivery(arrived, n);
                    if tx.send((at, buf.freeze(), permit)).is_err() {
                        return;
                    }
                }
            }
        }
    };
    let deliver = async move {
        while let Some((at, bytes, permit)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            if to.write_all(&bytes).await.is_err() {
                return;
            }
            drop(permit);
        }
        let _ = to.shutdown().await;
    };
    tokio::pin!(receive, deliver);
    tokio::select! {
        () = &mut deliver => {}
        () = &mut receive => deliver.await,
    }
}

impl AsyncRead for Shaped {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Shaped {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

impl Connected for Shaped {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.info.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use tokio::net::TcpListener;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_pacer_queues_chunks_at_the_bandwidth_then_adds_the_latency() {
        let link = Link {
            latency: 10 * MS,
            bytes_per_second: Some(1_000_000.0),
        };
        let now = Instant::now();
        let mut pacer = Pacer { link, free_at: now };
        // 1000 bytes take 1 ms on the link, then 10 ms to arrive
        assert_eq!(pacer.delivery(now, 1000), now + 11 * MS);
        // the next chunk, arriving at once, waits for the first to be sent
        assert_eq!(pacer.delivery(now, 1000), now + 12 * MS);
        // a chunk arriving after the link went idle starts on arrival
        assert_eq!(pacer.delivery(now + 50 * MS, 2000), now + 62 * MS);
        let mut unlimited = Pacer {
            link: Link {
                latency: 10 * MS,
                bytes_per_second: None,
            },
            free_at: now,
        };
        assert_eq!(unlimited.delivery(now, 1 << 20), now + 10 * MS);
        assert_eq!(unlimited.delivery(now + MS, 1 << 20), now + 11 * MS);
    }

    #[test]
    fn chunks_fit_the_budget_and_the_budget_covers_the_bandwidth_delay_product() {
        for (latency, rate) in [
            (Duration::ZERO, None),
            (10 * MS, None),
            (Duration::ZERO, Some(1e3)),
            (10 * MS, Some(25e6)),
            (200 * MS, Some(125e6)),
        ] {
            let link = Link {
                latency,
                bytes_per_second: rate,
            };
            assert!(link.chunk() <= link.budget(), "{link:?}");
            assert!((MIN_CHUNK..=MAX_CHUNK).contains(&link.chunk()), "{link:?}");
            if let Some(rate) = rate {
                assert!(
                    link.budget() as f64 >= rate * latency.as_secs_f64(),
                    "{link:?}"
                );
            }
        }
    }

    /// A listener whose connections go through `link` and are served by `serve`.
    async fn shaped_server<F, Fut>(link: Link, serve: F) -> std::net::SocketAddr
    where
        F: Fn(Shaped) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                tcp.set_nodelay(true).unwrap();
                tokio::spawn(serve(shape(tcp, link).unwrap()));
            }
        });
        addr
    }

    async fn echo(mut conn: Shaped) {
        let mut buf = vec![0u8; 64 << 10];
        while let Ok(n) = conn.read(&mut buf).await {
            if n == 0 || conn.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    }

    async fn bounded<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::time::timeout(Duration::from_secs(30), f)
            .await
            .expect("the test finishes in time")
    }

    #[tokio::test]
    async fn a_round_trip_takes_twice_the_latency() {
        bounded(async {
            let latency = 20 * MS;
            let link = Link {
                latency,
                bytes_per_second: None,
            };
            let addr = shaped_server(link, echo).await;
            let mut tcp = TcpStream::connect(addr).await.unwrap();
            tcp.set_nodelay(true).unwrap();
            for round in 0..3u8 {
                let start = std::time::Instant::now();
                tcp.write_all(&[round]).await.unwrap();
                let mut byte = [0u8];
                tcp.read_exact(&mut byte).await.unwrap();
                let rtt = start.elapsed();
                assert_eq!(byte, [round]);
                assert!(rtt >= 2 * latency, "round trip {rtt:?}");
                assert!(rtt < 2 * latency + Duration::from_secs(2), "{rtt:?}");
            }
        })
        .await;
    }

    #[tokio::test]
    async fn pipelined_messages_are_not_delayed_one_after_the_other() {
        bounded(async {
            let latency = 50 * MS;
            let link = Link {
                latency,
                bytes_per_second: None,
            };
            let addr = shaped_server(link, echo).await;
            let tcp = TcpStream::connect(addr).await.unwrap();
            tcp.set_nodelay(true).unwrap();
            let (mut rd, mut wr) = tcp.into_split();
            let start = std::time::Instant::now();
            // 100 messages sent over 100 ms (longer on a loaded machine, whose
            // 1 ms sleeps oversleep): a delay line echoes the last one a
            // round trip after it was sent; stop-and-wait would take 100
            // round trips, 10 s, however fast the sending was.
            let send = tokio::spawn(async move {
                for i in 0..100u8 {
                    wr.write_all(&[i]).await.unwrap();
                    tokio::time::sleep(MS).await;
                }
                (wr, start.elapsed())
            });
            let mut got = vec![0u8; 100];
            rd.read_exact(&mut got).await.unwrap();
            let elapsed = start.elapsed();
            let (wr, sending) = send.await.unwrap();
            assert_eq!(got, (0..100).collect::<Vec<u8>>());
            assert!(elapsed >= 2 * latency, "{elapsed:?}");
            assert!(
                elapsed < sending + 20 * latency,
                "a delay line, not stop-and-wait: {elapsed:?} for {sending:?} of sending"
            );
            drop(wr);
        })
        .await;
    }

    #[tokio::test]
    async fn the_link_keeps_its_pace_while_the_server_runtime_is_busy() {
        bounded(async {
            // 1 MB/s: 400 KB take 400 ms on the link, then 20 ms to arrive
            let link = Link {
                latency: 20 * MS,
                bytes_per_second: Some(1e6),
            };
            let bytes = 400_000;
            let busy = Duration::from_millis(400);
            let (done_tx, done_rx) = tokio::sync::oneshot::channel();
            let done_tx = std::sync::Mutex::new(Some(done_tx));
            let addr = shaped_server(link, move |mut conn: Shaped| {
                let done = done_tx.lock().unwrap().take();
                async move {
                    let start = std::time::Instant::now();
                    // The server's only thread is busy (this test runs on a
                    // current-thread runtime): nothing else of it runs.
                    std::thread::sleep(busy);
                    let mut got = vec![0u8; bytes];
                    conn.read_exact(&mut got).await.unwrap();
                    if let Some(done) = done {
                        let _ = done.send(start.elapsed());
                    }
                }
            })
            .await;
            // The peer writes from a thread of its own, at once.
            let peer = std::thread::spawn(move || {
                use std::io::Write;
                let mut tcp = std::net::TcpStream::connect(addr).unwrap();
                tcp.write_all(&vec![5u8; bytes]).unwrap();
                tcp
            });
            let elapsed = done_rx.await.unwrap();
            drop(peer.join().unwrap());
            // The link carried the bytes while the server was busy: they
            // wait in its buffer. Had the pumps waited for the server's
            // thread, the link would only start when it is free: at least
            // 400 + 400 + 20 ms. Carried on time: about 420 ms. (400 KB fit
            // in the link's 256 KiB in flight plus the server's 256 KiB
            // buffer.)
            assert!(elapsed >= busy, "{elapsed:?}");
            assert!(
                elapsed < busy + 300 * MS,
                "the link stood still: {elapsed:?}"
            );
        })
        .await;
    }

    /// Sends `bytes` through a new connection while the server sends as
    /// many back, both at once; returns the rates of each direction in
    /// bytes per second as the receiving end saw them.
    async fn both_ways(addr: std::net::SocketAddr, bytes: usize) -> (f64, f64) {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (mut rd, mut wr) = tcp.into_split();
        let start = std::time::Instant::now();
        let up = tokio::spawn(async move {
            wr.write_all(&vec![7u8; bytes]).await.unwrap();
            wr
        });
        let mut down = vec![0u8; bytes];
        rd.read_exact(&mut down).await.unwrap();
        let down_rate = bytes as f64 / start.elapsed().as_secs_f64();
        // the server answers with the time it needed to receive everything
        let mut up_secs = [0u8; 8];
        rd.read_exact(&mut up_secs).await.unwrap();
        let up_rate = bytes as f64 / f64::from_le_bytes(up_secs);
        drop(up.await.unwrap());
        (up_rate, down_rate)
    }

    /// Receives `bytes` while sending as many, then reports how long the
    /// receiving took.
    fn bulk_server(
        bytes: usize,
    ) -> impl Fn(Shaped) -> futures_util::future::BoxFuture<'static, ()> {
        move |conn: Shaped| {
            Box::pin(async move {
                let (mut rd, mut wr) = tokio::io::split(conn);
                let start = std::time::Instant::now();
                let receive = async {
                    let mut got = vec![0u8; bytes];
                    rd.read_exact(&mut got).await.unwrap();
                    start.elapsed().as_secs_f64()
                };
                let send = async {
                    wr.write_all(&vec![9u8; bytes]).await.unwrap();
                };
                let (secs, ()) = tokio::join!(receive, send);
                wr.write_all(&secs.to_le_bytes()).await.unwrap();
                let _ = wr.shutdown().await;
            })
        }
    }

    #[tokio::test]
    async fn each_direction_of_each_connection_gets_the_bandwidth() {
        bounded(async {
            // 40 Mbit/s: 5 MB/s per direction per connection
            let rate = 5e6;
            let bytes = 2_000_000;
            let link = Link {
                latency: 5 * MS,
                bytes_per_second: Some(rate),
            };
            let addr = shaped_server(link, bulk_server(bytes)).await;
            // two connections at once, each sending and receiving at once
            let (a, b) = tokio::join!(both_ways(addr, bytes), both_ways(addr, bytes));
            for (up, down) in [a, b] {
                for measured in [up, down] {
                    let ratio = measured / rate;
                    eprintln!(
                        "measured {:.2} MB/s: {ratio:.2} of the link",
                        measured / 1e6
                    );
                    assert!(
                        (0.5..=1.2).contains(&ratio),
                        "{measured} B/s is {ratio:.2}x"
                    );
                }
            }
        })
        .await;
    }
}
