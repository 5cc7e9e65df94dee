//! [`ClientBuilder`]: endpoint, credentials, TLS roots, timeouts, user
//! agent, trace id and retries, and the making of a [`Client`].

use super::*;

/// Configures a [`Client`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ClientBuilder {
    endpoint: Option<String>,
    pub(super) endpoint_source: EndpointSource,
    /// The address as the user gave it, for error messages.
    emulator_host: Option<String>,
    emulator: bool,
    connect_timeout: Duration,
    request_timeout: Option<Duration>,
    user_agent: String,
    trace_id: Option<String>,
    retry: RetryPolicy,
    credentials_file: Option<std::path::PathBuf>,
    /// PEM text of extra trusted roots.
    root_certificates: Vec<Vec<u8>>,
    /// Shared connections per location for `_default` writers; `None`
    /// turns multiplexing off.
    max_connections: usize,
    multiplexing: bool,
    #[cfg(feature = "opentelemetry")]
    meter: Option<opentelemetry::metrics::Meter>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            endpoint: None,
            endpoint_source: EndpointSource::Default,
            emulator_host: None,
            emulator: false,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Some(Duration::from_secs(120)),
            user_agent: format!("bqwrite/{}", env!("CARGO_PKG_VERSION")),
            trace_id: None,
            retry: RetryPolicy::default(),
            credentials_file: None,
            root_certificates: Vec::new(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            multiplexing: true,
            #[cfg(feature = "opentelemetry")]
            meter: None,
        }
    }
}

impl ClientBuilder {
    /// The service's URL (default [`GOOGLE_ENDPOINT`]).
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self.endpoint_source = EndpointSource::Endpoint;
        self
    }

    /// Talk to an emulator at `host:port` (or an `http://` URL with a port):
    /// no TLS, no credentials. The port is required: the build fails with
    /// [`ErrorKind::Config`] without one (the `bqwrite-emulator` binary
    /// listens on 9060 by default).
    pub fn emulator(mut self, host: impl AsRef<str>) -> Self {
        let host = host.as_ref();
        self.endpoint = Some(if host.contains("://") {
            host.to_owned()
        } else {
            format!("http://{host}")
        });
        self.emulator_host = Some(host.to_owned());
        self.endpoint_source = EndpointSource::Emulator;
        self.emulator = true;
        self
    }

    /// The most AppendRows connections the `_default` writers of this client
    /// share per location (default [`DEFAULT_MAX_CONNECTIONS`], 4; at least 1),
    /// however many tables they write: BigQuery counts concurrent
    /// connections against a per-project, per-region quota, and every
    /// connection costs memory on both ends. Requests of different tables
    /// are multiplexed on a connection, each naming its table, as Google's
    /// clients do; explicit streams (PENDING, COMMITTED, BUFFERED) keep a
    /// connection each, as the service requires. See
    /// [the writer module](crate::writer#many-tables-connection-pooling).
    ///
    /// The default of 4 keeps a service with hundreds of tables far under
    /// the quota, while a slow answer for one table holds up the answers
    /// behind it on one connection only, and four connections carry as much
    /// as a writer with connections of its own at ordinary rates.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections.max(1);
        self
    }

    /// Whether `_default` writers share pooled connections (default true);
    /// false gives each writer a connection of its own, as explicit streams
    /// have.
    pub fn multiplexing(mut self, enabled: bool) -> Self {
        self.multiplexing = enabled;
        self
    }

    /// How long connecting may take (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The deadline of each unary call (create, get, finalize, commit, flush);
    /// default 120 s. `None` for no deadline. AppendRows has none.
    pub fn request_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Text added before bqwrite's own user agent (`myapp/1.2 bqwrite/0.1.0`).
    pub fn user_agent(mut self, prefix: impl AsRef<str>) -> Self {
        self.user_agent = format!("{} {}", prefix.as_ref(), self.user_agent);
        self
    }

    /// The trace id sent on every AppendRows connection (prefixed `bqwrite:`),
    /// which shows in BigQuery's stream metadata.
    pub fn trace_id(mut self, trace_id: impl Into<String>) -> Self {
        self.trace_id = Some(trace_id.into());
        self
    }

    /// When unary calls (create, get, finalize, commit, flush) are retried:
    /// see [`retry`] (default [`RetryPolicy::default`]).
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Authenticate with this service account key file instead of
    /// Application Default Credentials.
    pub fn credentials_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.credentials_file = Some(path.into());
        self
    }

    /// Also trust the root certificate(s) in `pem` (PEM text), beside the
    /// system's roots, for the service endpoint and the token endpoint of a
    /// service account key: for a TLS-inspecting corporate proxy or a private
    /// endpoint. May be called more than once. An unreadable PEM fails the
    /// build with [`ErrorKind::Config`].
    pub fn root_certificate(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.root_certificates.push(pem.as_ref().to_vec());
        self
    }

    /// The OpenTelemetry meter the client and its writers and sinks record
    /// their [metrics](crate::writer#metrics) with (feature `opentelemetry`).
    /// Without it, the global meter `opentelemetry::global::meter("bqwrite")`
    /// is taken when the client is built: install the global meter provider
    /// before building the client.
    #[cfg(feature = "opentelemetry")]
    #[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
    pub fn meter(mut self, meter: opentelemetry::metrics::Meter) -> Self {
        self.meter = Some(meter);
        self
    }

    /// Builds the client: with credentials from the
    /// [credentials file](Self::credentials_file) or Application Default
    /// Credentials, unless it targets an emulator.
    ///
    /// Tokens are cached by the client and replaced before they expire, on a
    /// schedule derived from each token's expiry; a token the service
    /// refuses is replaced before the call is retried. A token endpoint that
    /// refuses a service account key is reported with its HTTP status and
    /// reason; for other Application Default Credentials (gcloud user
    /// credentials, the metadata server) gcp_auth logs the endpoint's answer
    /// at WARN level (`RUST_LOG=gcp_auth=warn`).
    ///
    /// # Errors
    /// [`ErrorKind::Auth`] when no credentials are found or the key file is
    /// unreadable; [`ErrorKind::Config`] for an invalid endpoint, an
    /// emulator address without a port, or an unreadable root certificate.
    pub async fn build(self) -> Result<Client> {
        let roots = self.parse_root_certificates()?;
        let auth = if self.emulator {
            Auth::None
        } else if let Some(path) = &self.credentials_file {
            Auth::Tokens(Arc::new(TokenSource::from_key_file(path, &roots)?))
        } else {
            Auth::Tokens(Arc::new(TokenSource::from_adc(&roots).await?))
        };
        self.finish(auth)
    }

    fn parse_root_certificates(&self) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>> {
        use rustls::pki_types::pem::PemObject;
        let mut roots = Vec::new();
        for pem in &self.root_certificates {
            let before = roots.len();
            for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pem) {
                roots.push(cert.map_err(|e| {
                    Error::new(
                        ErrorKind::Config,
                        format!("a root certificate given to the client is not valid PEM: {e}"),
                    )
                })?);
            }
            if roots.len() == before {
                return Err(Error::new(
                    ErrorKind::Config,
                    "a root certificate given to the client holds no PEM `CERTIFICATE` block",
                ));
            }
        }
        Ok(roots)
    }

    /// Builds an emulator client without awaiting anything.
    pub(super) fn build_lazy(self) -> Result<Client> {
        debug_assert!(self.emulator);
        self.finish(Auth::None)
    }

    fn finish(self, auth: Auth) -> Result<Client> {
        if let Auth::Tokens(source) = &auth {
            TokenSource::refresh_in_background(source);
        }
        let url = self
            .endpoint
            .clone()
            .unwrap_or_else(|| GOOGLE_ENDPOINT.to_owned());
        let source = self.endpoint_source;
        let config_error = |e: tonic::transport::Error| {
            Error::new(
                ErrorKind::Config,
                format!("invalid endpoint `{url}` ({source})"),
            )
            .with_source(e)
        };
        let endpoint = Endpoint::from_shared(url.clone()).map_err(config_error)?;
        if self.emulator && endpoint.uri().port_u16().is_none() {
            let given = self.emulator_host.as_deref().unwrap_or(&url);
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "the emulator address `{given}` ({source}) has no port: give `host:port`, \
                     such as `localhost:9060` (the bqwrite-emulator binary's default gRPC port)"
                ),
            ));
        }
        let mut endpoint = endpoint
            .connect_timeout(self.connect_timeout)
            .tcp_nodelay(true)
            .http2_adaptive_window(true)
            .initial_connection_window_size(Some(16 << 20))
            .initial_stream_window_size(Some(8 << 20))
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_while_idle(true)
            .user_agent(self.user_agent.clone())
            .map_err(config_error)?;
        if url.starts_with("https://") {
            let mut tls = ClientTlsConfig::new().with_native_roots();
            for pem in &self.root_certificates {
                tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
            }
            endpoint = endpoint.tls_config(tls).map_err(config_error)?;
        }
        let channel = endpoint.connect_lazy();
        let grpc = grpc_client(&channel);
        let trace_id = match self.trace_id {
            Some(id) => format!("bqwrite:{id}"),
            None => format!("bqwrite:{}", env!("CARGO_PKG_VERSION")),
        };
        Ok(Client {
            inner: Arc::new(Inner {
                grpc,
                channel,
                connector: endpoint,
                auth,
                endpoint: url,
                endpoint_source: self.endpoint_source,
                connected: AtomicBool::new(false),
                request_timeout: self.request_timeout,
                trace_id,
                retry: self.retry,
                pool: self.multiplexing.then(|| Pool::new(self.max_connections)),
                #[cfg(feature = "opentelemetry")]
                instruments: crate::metrics::ClientInstruments::new(
                    self.meter.unwrap_or_else(|| {
                        opentelemetry::global::meter(crate::metrics::METER_NAME)
                    }),
                ),
            }),
        })
    }
}
