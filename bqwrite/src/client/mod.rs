//! The connection to the Storage Write API: endpoint, credentials, headers.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tonic::metadata::{AsciiMetadataValue, MetadataMap};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

use crate::auth::TokenSource;
use crate::error::{Error, ErrorKind, Result};
use crate::proto::storage::big_query_write_client::BigQueryWriteClient;
use crate::proto::storage::{
    AppendRowsResponse, BatchCommitWriteStreamsRequest, BatchCommitWriteStreamsResponse,
    CreateWriteStreamRequest, FinalizeWriteStreamRequest, FinalizeWriteStreamResponse,
    FlushRowsRequest, FlushRowsResponse, GetWriteStreamRequest, WriteStream,
};
use crate::retry::{self, Retry, RetryPolicy};
use crate::table::{Table, TablePath};

mod append;
mod builder;
mod mux;
mod pool;

pub(crate) use self::append::{Append, SharedRows};
pub use self::builder::ClientBuilder;
pub use self::pool::DEFAULT_MAX_CONNECTIONS;
pub(crate) use self::pool::{Destination, Lease, Pool};

/// The Storage Write API's endpoint.
pub const GOOGLE_ENDPOINT: &str = "https://bigquerystorage.googleapis.com";

/// The environment variable naming an emulator's `host:port`, after the
/// `<SERVICE>_EMULATOR_HOST` convention of Google's emulators.
pub const EMULATOR_HOST_ENV: &str = "BIGQUERY_STORAGE_EMULATOR_HOST";

/// The OAuth scope the client asks tokens for.
pub const SCOPE: &str = "https://www.googleapis.com/auth/bigquery.insertdata";

const ROUTING_HEADER: &str = "x-goog-request-params";

/// A client of the Storage Write API. Cheap to clone: clones share one
/// connection and one token source.
///
/// # Connecting
/// The connection is made on the first call. If that cannot connect (nothing
/// listens at the address, it does not resolve) or the server's TLS
/// certificate is not trusted, the call fails at once with
/// [`ErrorKind::Connect`], naming the address and where it came from. Once a
/// connection has worked (for any clone), a lost connection is an outage:
/// retried as [`retry`] says. An untrusted certificate is never
/// retried; trust a private CA with [`ClientBuilder::root_certificate`].
///
/// # Credentials
/// Tokens come from a service account key
/// ([`ClientBuilder::credentials_file`]) or Application Default Credentials,
/// are cached by the client, replaced before they expire, and replaced at
/// once when the service refuses one (UNAUTHENTICATED), before the retry.
///
/// ```no_run
/// # async fn run() -> bqwrite::Result<()> {
/// // Real BigQuery with Application Default Credentials, or the emulator
/// // named by BIGQUERY_STORAGE_EMULATOR_HOST when it is set:
/// let client = bqwrite::Client::from_env().await?;
/// let table = client.table("my-project", "my_dataset", "customer_records")?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    grpc: BigQueryWriteClient<Channel>,
    /// The channel under `grpc`, for AppendRows calls (`append.rs`).
    channel: Channel,
    /// How connections to the endpoint are made, for
    /// [`Client::with_own_connection`].
    connector: Endpoint,
    auth: Auth,
    endpoint: String,
    /// Where `endpoint` came from, named in connection errors.
    endpoint_source: EndpointSource,
    /// Whether a connection to the endpoint ever worked: until one has, a
    /// failure to connect is a configuration problem, reported at once.
    connected: AtomicBool,
    request_timeout: Option<Duration>,
    trace_id: String,
    retry: RetryPolicy,
    /// The shared connections of `_default` writers; `None` when each
    /// writer keeps a connection of its own.
    pool: Option<Pool>,
    #[cfg(feature = "opentelemetry")]
    instruments: crate::metrics::ClientInstruments,
}

#[derive(Clone)]
enum Auth {
    None,
    Tokens(Arc<TokenSource>),
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.inner.endpoint)
            .field("endpoint_source", &self.inner.endpoint_source.to_string())
            .field(
                "auth",
                &match &self.inner.auth {
                    Auth::None => "none".to_owned(),
                    Auth::Tokens(source) => format!("{source:?}"),
                },
            )
            .field("trace_id", &self.inner.trace_id)
            .finish()
    }
}

impl Client {
    /// A client of real BigQuery with Application Default Credentials.
    pub async fn new() -> Result<Self> {
        Self::builder().build().await
    }

    /// A client of an emulator at `host:port` (or a full `http://` URL), with
    /// no TLS and no credentials. The port is required (the
    /// `bqwrite-emulator` binary listens on 9060 unless told otherwise).
    ///
    /// The connection is made on first use, so this does not fail when the
    /// emulator is not up yet; it fails only for an unusable address
    /// ([`ErrorKind::Config`]). If the first call then cannot connect, it fails
    /// at once with [`ErrorKind::Connect`], naming the address. Call it within
    /// a Tokio runtime.
    pub fn emulator(host: impl AsRef<str>) -> Result<Self> {
        Self::builder().emulator(host).build_lazy()
    }

    /// The emulator named by `BIGQUERY_STORAGE_EMULATOR_HOST` (`host:port`)
    /// when it is set, real BigQuery with Application Default Credentials
    /// otherwise. Errors about the address name the variable.
    pub async fn from_env() -> Result<Self> {
        match std::env::var(EMULATOR_HOST_ENV) {
            Ok(host) if !host.trim().is_empty() => {
                let mut builder = Self::builder().emulator(host.trim());
                builder.endpoint_source = EndpointSource::EnvVar;
                builder.build_lazy()
            }
            _ => Self::new().await,
        }
    }

    /// A builder for endpoint, credentials, timeouts, user agent and trace id.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A table of this client's service.
    pub fn table(
        &self,
        project: impl Into<String>,
        dataset: impl Into<String>,
        table: impl Into<String>,
    ) -> Result<Table> {
        Ok(Table::new(
            self.clone(),
            TablePath::new(project, dataset, table)?,
        ))
    }

    /// A table from its path, `projects/{p}/datasets/{d}/tables/{t}`.
    pub fn table_from_path(&self, path: &str) -> Result<Table> {
        Ok(Table::new(self.clone(), path.parse()?))
    }

    /// A client with this one's configuration and credentials (the same
    /// token cache) on a connection of its own.
    ///
    /// The clones of a client share one connection (one TCP connection,
    /// carrying every call as an HTTP/2 stream), and with it that
    /// connection's bandwidth, which over a wide-area link is often tens of
    /// MB/s. Writers made from clients of their own each get a connection:
    /// what [`Table::pending_group`] does to spread one load over several.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> bqwrite::Result<()> {
    /// let client = bqwrite::Client::emulator("127.0.0.1:9060")?;
    /// let other = client.with_own_connection();
    /// assert_eq!(other.endpoint(), client.endpoint());
    /// # Ok(()) }
    /// ```
    pub fn with_own_connection(&self) -> Client {
        let inner = &self.inner;
        let channel = inner.connector.connect_lazy();
        Client {
            inner: Arc::new(Inner {
                grpc: grpc_client(&channel),
                channel,
                connector: inner.connector.clone(),
                auth: inner.auth.clone(),
                endpoint: inner.endpoint.clone(),
                endpoint_source: inner.endpoint_source,
                connected: AtomicBool::new(inner.connected.load(Ordering::Acquire)),
                request_timeout: inner.request_timeout,
                trace_id: inner.trace_id.clone(),
                retry: inner.retry.clone(),
                pool: inner.pool.as_ref().map(|pool| Pool::new(pool.max())),
                #[cfg(feature = "opentelemetry")]
                instruments: inner.instruments.clone(),
            }),
        }
    }

    /// The endpoint this client talks to.
    pub fn endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    /// The pool `_default` writers share connections from, unless
    /// multiplexing is off.
    pub(crate) fn pool(&self) -> Option<&Pool> {
        self.inner.pool.as_ref()
    }

    /// The client's instruments, and the meter its writers use.
    #[cfg(feature = "opentelemetry")]
    pub(crate) fn instruments(&self) -> &crate::metrics::ClientInstruments {
        &self.inner.instruments
    }

    /// The trace id sent on the first request of every AppendRows connection.
    pub fn trace_id(&self) -> &str {
        &self.inner.trace_id
    }

    /// A request with the routing header, the credentials and the timeout,
    /// and the token it carries.
    async fn request<M>(
        &self,
        message: M,
        routing_key: &str,
        routing_value: &str,
    ) -> Result<(tonic::Request<M>, Option<Arc<str>>)> {
        let mut request = tonic::Request::new(message);
        let token = self
            .decorate(request.metadata_mut(), routing_key, routing_value)
            .await?;
        if let Some(timeout) = self.inner.request_timeout {
            request.set_timeout(timeout);
        }
        Ok((request, token))
    }

    /// Adds the routing header and the credentials; returns the token sent.
    async fn decorate(
        &self,
        metadata: &mut MetadataMap,
        key: &str,
        value: &str,
    ) -> Result<Option<Arc<str>>> {
        let routing = format!("{key}={}", percent_encode(value));
        let routing = AsciiMetadataValue::try_from(routing.as_str()).map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("invalid routing header `{routing}`"),
            )
            .with_source(e)
        })?;
        metadata.insert(ROUTING_HEADER, routing);
        let Auth::Tokens(source) = &self.inner.auth else {
            return Ok(None);
        };
        let token = source.token().await?;
        // The token is never logged: it only goes into this header.
        let mut value = AsciiMetadataValue::try_from(format!("Bearer {token}")).map_err(|_| {
            Error::new(ErrorKind::Auth, "the access token is not valid header text")
        })?;
        value.set_sensitive(true);
        metadata.insert("authorization", value);
        Ok(Some(token))
    }

    /// One unary call, retried on transient failures as the client's retry
    /// policy allows. Returns the response and how many retries it took.
    async fn unary<M, R, F, Fut>(
        &self,
        context: &str,
        message: M,
        routing: (&str, &str),
        mut call: F,
    ) -> Result<(R, u32)>
    where
        M: Clone,
        F: FnMut(BigQueryWriteClient<Channel>, tonic::Request<M>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<R>, tonic::Status>>,
    {
        let mut budget = self.inner.retry.budget();
        loop {
            let (request, token) = self.request(message.clone(), routing.0, routing.1).await?;
            let status = match call(self.inner.grpc.clone(), request).await {
                Ok(response) => {
                    self.inner.connected.store(true, Ordering::Relaxed);
                    return Ok((response.into_inner(), budget.attempts()));
                }
                Err(status) => status,
            };
            let error = self.call_failed(context, status, token.as_deref());
            let retry = error.code().map_or(Retry::Permanent, retry::classify);
            if !budget.wait(retry).await {
                return Err(match budget.attempts() {
                    0 => error,
                    n => error.context(format!("gave up after {n} retries")),
                });
            }
            tracing::info!(attempt = budget.attempts(), reason = %error, "retrying");
            #[cfg(feature = "opentelemetry")]
            if let Some(code) = error.code() {
                self.inner.instruments.retried(code);
            }
        }
    }

    pub(crate) async fn create_write_stream(
        &self,
        request: CreateWriteStreamRequest,
    ) -> Result<WriteStream> {
        let parent = request.parent.clone();
        let context = format!("creating a write stream on `{parent}`");
        let call = |mut grpc: BigQueryWriteClient<Channel>, r| async move {
            grpc.create_write_stream(r).await
        };
        let (stream, _) = self
            .unary(&context, request, ("parent", &parent), call)
            .await?;
        Ok(stream)
    }

    pub(crate) async fn get_write_stream(
        &self,
        request: GetWriteStreamRequest,
    ) -> Result<WriteStream> {
        let name = request.name.clone();
        let context = format!("getting write stream `{name}`");
        let call = |mut grpc: BigQueryWriteClient<Channel>, r| async move {
            grpc.get_write_stream(r).await
        };
        let (stream, _) = self
            .unary(&context, request, ("write_stream", &name), call)
            .await?;
        Ok(stream)
    }

    /// Finalizes a stream; finalizing is idempotent, so it is safe to retry.
    pub(crate) async fn finalize(&self, name: &str) -> Result<FinalizeWriteStreamResponse> {
        let context = format!("finalizing write stream `{name}`");
        let request = FinalizeWriteStreamRequest {
            name: name.to_owned(),
        };
        let call = |mut grpc: BigQueryWriteClient<Channel>, r| async move {
            grpc.finalize_write_stream(r).await
        };
        let (response, _) = self
            .unary(&context, request, ("write_stream", name), call)
            .await?;
        Ok(response)
    }

    /// Makes a BUFFERED stream's rows visible up to and including `offset`;
    /// idempotent, so it is safe to retry.
    pub(crate) async fn flush_rows(&self, name: &str, offset: i64) -> Result<FlushRowsResponse> {
        let context = format!("flushing write stream `{name}` to offset {offset}");
        let request = FlushRowsRequest {
            write_stream: name.to_owned(),
            offset: Some(offset),
        };
        let call =
            |mut grpc: BigQueryWriteClient<Channel>, r| async move { grpc.flush_rows(r).await };
        let (response, _) = self
            .unary(&context, request, ("write_stream", name), call)
            .await?;
        Ok(response)
    }

    /// Commits streams, retried as the policy allows; also returns how many
    /// attempts were sent, whatever the result: after more than one (or one
    /// whose answer was lost), an earlier attempt may have committed.
    pub(crate) async fn batch_commit(
        &self,
        request: BatchCommitWriteStreamsRequest,
    ) -> (Result<BatchCommitWriteStreamsResponse>, u32) {
        let parent = request.parent.clone();
        let context = format!("committing streams of `{parent}`");
        let mut attempts = 0u32;
        let call = |mut grpc: BigQueryWriteClient<Channel>, r| {
            attempts += 1;
            async move { grpc.batch_commit_write_streams(r).await }
        };
        let result = self
            .unary(&context, request, ("parent", &parent), call)
            .await
            .map(|(response, _)| response);
        (result, attempts)
    }

    /// Opens an AppendRows connection to `stream` fed by `requests`.
    pub(crate) async fn append_rows<S>(
        &self,
        stream: &str,
        requests: S,
    ) -> Result<tonic::Streaming<AppendRowsResponse>>
    where
        S: tokio_stream::Stream<Item = Append> + Send + 'static,
    {
        self.append_rows_routed(("write_stream", stream.to_owned()), requests)
            .await
    }

    /// Opens an AppendRows connection fed by `requests`, routed by
    /// `routing` (`write_stream` or, for a multiplexed connection,
    /// `write_location`).
    pub(crate) async fn append_rows_routed<S>(
        &self,
        routing: (&str, String),
        requests: S,
    ) -> Result<tonic::Streaming<AppendRowsResponse>>
    where
        S: tokio_stream::Stream<Item = Append> + Send + 'static,
    {
        let (key, stream) = (routing.0, routing.1.as_str());
        // AppendRows is bidirectional: no deadline on the call as a whole, and
        // tonic adds no routing header to streaming calls, so it is added here.
        let mut request = tonic::Request::new(requests);
        let token = self.decorate(request.metadata_mut(), key, stream).await?;
        match append::call(self.inner.channel.clone(), request).await {
            Ok(response) => {
                self.inner.connected.store(true, Ordering::Relaxed);
                Ok(response.into_inner())
            }
            Err(status) => Err(self.call_failed(
                &format!("opening AppendRows on `{stream}`"),
                status,
                token.as_deref(),
            )),
        }
    }

    /// The error of a failed call. A failure to connect is
    /// [`ErrorKind::Connect`], carrying no gRPC code so that nothing retries
    /// it, when it cannot be transient: an untrusted certificate, or a
    /// client that never connected (a wrong address, nothing listening).
    /// Once a connection has worked, failing to reconnect is an outage:
    /// [`ErrorKind::Transport`], retried.
    ///
    /// A token the service refused (UNAUTHENTICATED) is dropped from the
    /// cache, so whoever retries sends a new one.
    fn call_failed(&self, context: &str, status: tonic::Status, token: Option<&str>) -> Error {
        if status.code() == tonic::Code::Unauthenticated
            && let (Auth::Tokens(source), Some(token)) = (&self.inner.auth, token)
        {
            source.invalidate(token);
        }
        let connected = self.inner.connected.load(Ordering::Relaxed);
        match connect_failure(&status) {
            None => {
                // The server answered: whatever the error, a connection worked.
                self.inner.connected.store(true, Ordering::Relaxed);
                Error::from_status(context, status)
            }
            Some(ConnectFailure::Certificate(reason)) => Error::new(
                ErrorKind::Connect,
                format!(
                    "{context}: the TLS certificate of {} ({}) is not trusted: {reason}; \
                     not retried, a certificate failure is permanent (trust its issuer with \
                     `ClientBuilder::root_certificate` or the system's roots)",
                    self.inner.endpoint, self.inner.endpoint_source
                ),
            )
            .with_source(status),
            Some(ConnectFailure::Other(reason)) if !connected => Error::new(
                ErrorKind::Connect,
                format!(
                    "{context}: cannot connect to {} ({}): {reason}; not retried, this client \
                     has never connected{}",
                    self.inner.endpoint,
                    self.inner.endpoint_source,
                    if self.inner.endpoint_source.is_emulator() {
                        " (is the emulator running?)"
                    } else {
                        ""
                    }
                ),
            )
            .with_source(status),
            Some(ConnectFailure::Other(_)) => Error::from_status(context, status),
        }
    }
}

/// Why a call could not connect.
enum ConnectFailure {
    /// The server's TLS certificate was refused.
    Certificate(String),
    /// Anything else: refused, unreachable, timed out, unresolvable, a
    /// failed handshake.
    Other(String),
}

/// What kept a call from connecting, if that is why it failed: tonic wraps
/// every error of the connect phase (TCP, TLS) in a [`tonic::ConnectError`].
fn connect_failure(status: &tonic::Status) -> Option<ConnectFailure> {
    let mut source = std::error::Error::source(status);
    let mut in_connect = false;
    let mut innermost = None;
    while let Some(err) = source {
        in_connect |= err.is::<tonic::ConnectError>();
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(tls) = io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>())
        {
            if let rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented =
                tls
            {
                return Some(ConnectFailure::Certificate(tls.to_string()));
            }
            return in_connect.then(|| ConnectFailure::Other(format!("TLS: {tls}")));
        }
        innermost = Some(err);
        source = err.source();
    }
    if !in_connect {
        return None;
    }
    Some(ConnectFailure::Other(innermost.map_or_else(
        || status.message().to_owned(),
        ToString::to_string,
    )))
}

/// Where a client's endpoint came from, named in connection errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EndpointSource {
    /// [`EMULATOR_HOST_ENV`], read by [`Client::from_env`].
    EnvVar,
    /// [`Client::emulator`] or [`ClientBuilder::emulator`].
    Emulator,
    /// [`ClientBuilder::endpoint`].
    Endpoint,
    /// [`GOOGLE_ENDPOINT`], used when nothing else was set.
    Default,
}

impl EndpointSource {
    fn is_emulator(self) -> bool {
        matches!(self, Self::EnvVar | Self::Emulator)
    }
}

impl fmt::Display for EndpointSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::EnvVar => "from BIGQUERY_STORAGE_EMULATOR_HOST",
            Self::Emulator => "the emulator address given to the client",
            Self::Endpoint => "set with ClientBuilder::endpoint",
            Self::Default => "the default endpoint",
        })
    }
}

/// The largest answer the client reads.
pub(super) const MAX_DECODING_MESSAGE_SIZE: usize = 64 << 20;

/// A gRPC client on `channel` (a lazily opened connection).
fn grpc_client(channel: &Channel) -> BigQueryWriteClient<Channel> {
    BigQueryWriteClient::new(channel.clone())
        .max_decoding_message_size(MAX_DECODING_MESSAGE_SIZE)
        .max_encoding_message_size(usize::MAX)
}

/// Percent-encodes a routing header value as Google's clients do (`/` as `%2F`).
pub(crate) fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 16);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_values_are_percent_encoded() {
        assert_eq!(
            percent_encode("projects/p/datasets/d/tables/t"),
            "projects%2Fp%2Fdatasets%2Fd%2Ftables%2Ft"
        );
        assert_eq!(percent_encode("a-b_c.d~e"), "a-b_c.d~e");
    }

    #[tokio::test]
    async fn emulator_client_needs_no_server_to_build() {
        let client = Client::emulator("127.0.0.1:9").unwrap();
        assert_eq!(client.endpoint(), "http://127.0.0.1:9");
        assert!(client.trace_id().starts_with("bqwrite:"));
        let table = client.table("p", "d", "t").unwrap();
        assert_eq!(table.path().to_string(), "projects/p/datasets/d/tables/t");
    }

    #[tokio::test]
    async fn emulator_rejects_an_unusable_address() {
        let err = Client::emulator("not a host:port").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
    }

    #[tokio::test]
    async fn opening_append_rows_without_a_server_is_a_connect_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client = Client::emulator(format!("127.0.0.1:{port}")).unwrap();
        let err = client
            .append_rows(
                "projects/p/datasets/d/tables/t/streams/s",
                tokio_stream::empty(),
            )
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
        assert_eq!(
            err.code(),
            None,
            "the writer retries errors with a transient code"
        );
        assert!(
            err.to_string().contains(&format!("127.0.0.1:{port}")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn emulator_addresses_need_a_port() {
        for host in ["localhost", "http://localhost", "127.0.0.1"] {
            let err = Client::emulator(host).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config, "{host}");
            let text = err.to_string();
            assert!(text.contains(&format!("`{host}`")), "{text}");
            assert!(text.contains("has no port"), "{text}");
            assert!(text.contains("9060"), "{text}");
        }
        let client = Client::emulator("[::1]:9060").unwrap();
        assert_eq!(client.endpoint(), "http://[::1]:9060");
    }
}
