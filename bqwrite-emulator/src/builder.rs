//! [`EmulatorBuilder`]: the settings of an emulator, and starting its gRPC
//! and REST servers.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bqwrite::proto::storage::big_query_write_server::BigQueryWriteServer;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tracing::{info, warn};

use crate::link::{self, Link};
use crate::server::{Config, WriteService};
use crate::{
    DEFAULT_MAX_REQUEST_BYTES, Emulator, Error, auth, evolve, faults::Faults, rest, server,
    store::Store,
};

/// Settings for starting an [`Emulator`]; from [`Emulator::builder`].
#[derive(Debug, Clone)]
#[must_use]
pub struct EmulatorBuilder {
    project: String,
    host: IpAddr,
    grpc_port: u16,
    http_port: u16,
    max_request_bytes: usize,
    require_routing_header: bool,
    latency: Duration,
    connection_mbps: Option<f64>,
    bearer: Option<auth::BearerCheck>,
    evolution: evolve::Settings,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        EmulatorBuilder {
            project: "test-project".into(),
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            grpc_port: 0,
            http_port: 0,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            require_routing_header: false,
            latency: Duration::ZERO,
            connection_mbps: None,
            bearer: None,
            evolution: evolve::Settings::default(),
        }
    }
}

impl EmulatorBuilder {
    /// The default project (`"test-project"` unless set): short table names
    /// `dataset.table` are resolved in it. Other projects work too.
    pub fn project(mut self, project: impl Into<String>) -> Self {
        self.project = project.into();
        self
    }

    /// The address both servers bind (default 127.0.0.1).
    pub fn host(mut self, host: IpAddr) -> Self {
        self.host = host;
        self
    }

    /// The gRPC port (default 0: any free port).
    pub fn grpc_port(mut self, port: u16) -> Self {
        self.grpc_port = port;
        self
    }

    /// The REST port (default 0: any free port).
    pub fn http_port(mut self, port: u16) -> Self {
        self.http_port = port;
        self
    }

    /// The largest AppendRowsRequest accepted, in encoded bytes (default
    /// [`DEFAULT_MAX_REQUEST_BYTES`]). A larger request is answered in-band
    /// with INVALID_ARGUMENT and the connection stays usable; the transport
    /// itself accepts messages up to four times this (at least 64 MiB).
    pub fn max_request_bytes(mut self, bytes: usize) -> Self {
        self.max_request_bytes = bytes;
        self
    }

    /// Requires the `x-goog-request-params` routing header on every call
    /// (default off: it is checked only when present), to test that a
    /// client sends it as BigQuery needs.
    pub fn require_routing_header(mut self, required: bool) -> Self {
        self.require_routing_header = required;
        self
    }

    /// The one-way latency of the simulated link every gRPC connection goes
    /// through (default zero): each byte, in each direction, reaches the
    /// other end this much after it was sent, so a request and its answer
    /// take at least twice this. Pipelined requests are not held back: the
    /// link is a delay line, not stop-and-wait. See [the simulated
    /// link](crate#a-simulated-wide-area-link).
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// The bandwidth of the simulated link in megabits per second (10^6
    /// bits), for each direction of each gRPC connection on its own (default:
    /// unlimited): 200.0 carries 25 MB/s each way per connection. It must be
    /// a positive number; [`EmulatorBuilder::start`] fails otherwise.
    pub fn connection_mbps(mut self, mbps: f64) -> Self {
        self.connection_mbps = Some(mbps);
        self
    }

    /// How long a schema change takes to reach the write path (default
    /// zero): until then a writer schema naming an added column is refused
    /// as naming an unknown field, a dropped column is still accepted (its
    /// values are discarded), and `updated_schema` does not report the
    /// change. See [when a table changes](crate#when-a-table-changes).
    pub fn schema_propagation(mut self, delay: Duration) -> Self {
        self.evolution.propagation = delay;
        self
    }

    /// How long a table created under the name of a deleted table answers
    /// AppendRows with NOT_FOUND (default zero), as BigQuery does for a
    /// while after a table is recreated.
    pub fn recreate_window(mut self, window: Duration) -> Self {
        self.evolution.recreate_window = window;
        self
    }

    fn link(&self) -> Result<Link, Error> {
        let bytes_per_second = match self.connection_mbps {
            None => None,
            Some(mbps) if mbps.is_finite() && mbps > 0.0 => Some(mbps * 1e6 / 8.0),
            Some(mbps) => {
                return Err(Error::InvalidLink(format!(
                    "connection bandwidth must be a positive number of Mbit/s, not {mbps}"
                )));
            }
        };
        Ok(Link {
            latency: self.latency,
            bytes_per_second,
        })
    }

    /// Requires an `authorization: Bearer <token>` header on every gRPC call,
    /// accepted when `check(token)` is true; otherwise the call fails with
    /// UNAUTHENTICATED, as BigQuery answers a missing, expired or revoked
    /// token (default off: no credentials needed). For testing a client's
    /// credentials path.
    pub fn require_bearer_token(
        mut self,
        check: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.bearer = Some(auth::BearerCheck(Arc::new(check)));
        self
    }

    /// Binds both ports and starts serving; returns once they are bound.
    pub async fn start(self) -> Result<Emulator, Error> {
        let link = self.link()?;
        let bind = |service: &'static str, port: u16| {
            let addr = SocketAddr::new(self.host, port);
            async move {
                TcpListener::bind(addr).await.map_err(|source| Error::Bind {
                    service,
                    addr,
                    source,
                })
            }
        };
        let grpc_listener = bind("gRPC", self.grpc_port).await?;
        let http_listener = bind("HTTP", self.http_port).await?;
        let local = |listener: &TcpListener, service: &'static str, port: u16| {
            listener.local_addr().map_err(|source| Error::Bind {
                service,
                addr: SocketAddr::new(self.host, port),
                source,
            })
        };
        let grpc_addr = local(&grpc_listener, "gRPC", self.grpc_port)?;
        let http_addr = local(&http_listener, "HTTP", self.http_port)?;

        let store = Arc::new(Store::new(self.evolution));
        let faults = Faults::default();
        let config = Arc::new(Config {
            max_request_bytes: self.max_request_bytes,
            require_routing_header: self.require_routing_header,
            connections: Arc::default(),
        });
        let (shutdown, tasks) = serve(
            grpc_listener,
            http_listener,
            store.clone(),
            faults.clone(),
            config.clone(),
            link,
            self.bearer.clone(),
        );
        info!(%grpc_addr, %http_addr, project = %self.project, "bqwrite emulator listening");
        if link.is_shaped() {
            info!(latency = ?link.latency, mbps = ?self.connection_mbps, "gRPC connections go through a simulated link");
        }
        Ok(Emulator {
            store,
            faults,
            config,
            link,
            bearer: self.bearer,
            project: self.project,
            grpc_addr,
            http_addr,
            shutdown,
            tasks,
        })
    }
}

/// Starts both servers on bound listeners; returns the shutdown switch and
/// the server tasks.
pub(crate) fn serve(
    grpc_listener: TcpListener,
    http_listener: TcpListener,
    store: Arc<Store>,
    faults: Faults,
    config: Arc<Config>,
    link: Link,
    bearer: Option<auth::BearerCheck>,
) -> (watch::Sender<bool>, Vec<JoinHandle<()>>) {
    let (shutdown, shutdown_rx) = watch::channel(false);
    let transport_limit = config.max_request_bytes.saturating_mul(4).max(64 << 20);
    let service = WriteService {
        store: store.clone(),
        faults,
        config,
        shutdown: shutdown_rx.clone(),
    };
    let grpc_service = BigQueryWriteServer::new(service)
        .max_decoding_message_size(transport_limit)
        .max_encoding_message_size(usize::MAX);
    let grpc_service = tonic::service::interceptor::InterceptedService::new(
        grpc_service,
        auth::interceptor(bearer),
    );
    let incoming = TcpIncoming::from(grpc_listener).with_nodelay(Some(true));
    let grpc_signal = server::shutdown_signal(shutdown_rx.clone());
    let grpc_task = tokio::spawn(async move {
        let router = Server::builder()
            .initial_stream_window_size(Some(8 << 20))
            .initial_connection_window_size(Some(32 << 20))
            .max_concurrent_streams(Some(4096))
            .add_service(grpc_service);
        let served = if link.is_shaped() {
            // A connection the link cannot take is closed, not the server:
            // tonic stops serving at the first error its incoming stream yields.
            let shaped = incoming.filter_map(move |tcp| match tcp.map(|tcp| link::shape(tcp, link)) {
                Ok(Ok(shaped)) => Some(Ok(shaped)),
                Ok(Err(e)) => {
                    warn!(error = %e, "a connection could not go through the simulated link: closed");
                    None
                }
                Err(e) => Some(Err(e)),
            });
            router
                .serve_with_incoming_shutdown(shaped, grpc_signal)
                .await
        } else {
            router
                .serve_with_incoming_shutdown(incoming, grpc_signal)
                .await
        };
        if let Err(e) = served {
            warn!(error = %e, "the gRPC server stopped with an error");
        }
    });
    let http_signal = server::shutdown_signal(shutdown_rx);
    let router = rest::router(store);
    let http_task = tokio::spawn(async move {
        let served = axum::serve(http_listener, router)
            .with_graceful_shutdown(http_signal)
            .await;
        if let Err(e) = served {
            warn!(error = %e, "the HTTP server stopped with an error");
        }
    });
    (shutdown, vec![grpc_task, http_task])
}
