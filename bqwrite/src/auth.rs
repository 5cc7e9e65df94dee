//! Access tokens: where they come from, a cache bqwrite controls, and a
//! refresh scheduled from each token's expiry.
//!
//! Service account keys (a key file, or `GOOGLE_APPLICATION_CREDENTIALS`
//! naming one) are exchanged for tokens here, with gcp_auth's signer: a
//! refused exchange is reported with the endpoint's status and reason. Other
//! Application Default Credentials (gcloud user credentials, the metadata
//! server) go through gcp_auth; when it fails, its log line at WARN level
//! (`RUST_LOG=gcp_auth=warn`) carries the endpoint's answer.
//!
//! The cache is ours, not gcp_auth's, so a token the service refused can be
//! dropped: the next call gets a new one.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::client::SCOPE;
use crate::error::{Error, ErrorKind, Result};

/// Refresh this long before a token expires (Google's libraries use 3 to 5
/// minutes), but never before half its lifetime has passed.
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);
/// A cached token is not handed out in its last 10 seconds (or last quarter
/// of a shorter lifetime): a request must not arrive with an expired token.
const USE_MARGIN: Duration = Duration::from_secs(10);
/// How long one token exchange may take, retries included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);
/// The JWT bearer grant of RFC 7523, as Google's token endpoint expects it.
const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// TLS roots for HTTPS token endpoints: the system's, plus any given to the
/// client builder.
pub(crate) fn tls_config(extra_roots: &[CertificateDer<'static>]) -> Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    roots.add_parsable_certificates(extra_roots.iter().cloned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(ErrorKind::Config, "no usable TLS versions").with_source(e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

/// Where tokens come from, with a cache in front. Shared by the clones of a
/// client and its background refresh.
pub(crate) struct TokenSource {
    credentials: Credentials,
    cache: Mutex<Option<Cached>>,
    /// One exchange at a time: concurrent callers wait for it.
    fetching: tokio::sync::Mutex<()>,
    /// Wakes the background refresh when a token is stored or the source is dropped.
    changed: Arc<Notify>,
}

struct Cached {
    token: Arc<str>,
    /// Counts the tokens fetched, so a refresh does not replace a token newer
    /// than the one it was asked to replace.
    generation: u64,
    usable_until: Instant,
    refresh_at: Instant,
}

/// A token and how long it lives.
struct Fetched {
    token: String,
    lifetime: Duration,
}

enum Credentials {
    ServiceAccount(Box<ServiceAccount>),
    Adc(Adc),
    /// Numbered tokens of a fixed lifetime, for unit tests.
    #[cfg(test)]
    Fake {
        fetches: std::sync::atomic::AtomicU64,
        lifetime: Duration,
    },
}

impl TokenSource {
    /// Tokens for the service account key in `path`.
    pub(crate) fn from_key_file(path: &Path, roots: &[CertificateDer<'static>]) -> Result<Self> {
        let account = ServiceAccount::from_file(path, KeyOrigin::File(path.to_owned()), roots)?;
        Ok(Self::new(Credentials::ServiceAccount(Box::new(account))))
    }

    /// Tokens from Application Default Credentials.
    pub(crate) async fn from_adc(roots: &[CertificateDer<'static>]) -> Result<Self> {
        if let Some(path) = std::env::var_os("GOOGLE_APPLICATION_CREDENTIALS") {
            let path = PathBuf::from(path);
            if KeyFile::is_service_account(&path) {
                let origin = KeyOrigin::AdcEnv(path.clone());
                let account = ServiceAccount::from_file(&path, origin, roots)?;
                return Ok(Self::new(Credentials::ServiceAccount(Box::new(account))));
            }
        }
        let provider = gcp_auth::provider().await.map_err(|e| {
            Error::new(
                ErrorKind::Auth,
                "no Application Default Credentials found (set GOOGLE_APPLICATION_CREDENTIALS, \
                 run `gcloud auth application-default login`, or use an emulator)",
            )
            .with_source(e)
        })?;
        Ok(Self::new(Credentials::Adc(Adc {
            first: Mutex::new(Some(provider)),
        })))
    }

    fn new(credentials: Credentials) -> Self {
        Self {
            credentials,
            cache: Mutex::new(None),
            fetching: tokio::sync::Mutex::new(()),
            changed: Arc::new(Notify::new()),
        }
    }

    /// A token that is not about to expire: the cached one, or a new one.
    pub(crate) async fn token(&self) -> Result<Arc<str>> {
        let generation = {
            let cache = self.lock();
            match cache.as_ref() {
                Some(c) if Instant::now() < c.usable_until => return Ok(c.token.clone()),
                Some(c) => c.generation,
                None => 0,
            }
        };
        self.refresh(generation).await
    }

    /// The service refused `token`: it is not handed out again.
    pub(crate) fn invalidate(&self, token: &str) {
        let mut cache = self.lock();
        if let Some(c) = cache.as_mut()
            && *c.token == *token
        {
            c.usable_until = Instant::now();
            c.refresh_at = Instant::now();
        }
    }

    /// A new token, unless one newer than `generation` was fetched meanwhile.
    async fn refresh(&self, generation: u64) -> Result<Arc<str>> {
        let _fetching = self.fetching.lock().await;
        if let Some(c) = self.lock().as_ref()
            && c.generation > generation
            && Instant::now() < c.usable_until
        {
            return Ok(c.token.clone());
        }
        let fetched = match tokio::time::timeout(FETCH_TIMEOUT, self.credentials.fetch()).await {
            Ok(fetched) => fetched?,
            Err(_) => {
                return Err(Error::new(
                    ErrorKind::Auth,
                    format!(
                        "could not obtain an access token from {} within {FETCH_TIMEOUT:?}",
                        self.credentials
                    ),
                ));
            }
        };
        let now = Instant::now();
        let lifetime = fetched.lifetime;
        let token: Arc<str> = fetched.token.into();
        let mut cache = self.lock();
        let generation = cache.as_ref().map_or(0, |c| c.generation) + 1;
        *cache = Some(Cached {
            token: token.clone(),
            generation,
            usable_until: now + lifetime - USE_MARGIN.min(lifetime / 4),
            refresh_at: now + (lifetime.saturating_sub(REFRESH_BEFORE_EXPIRY)).max(lifetime / 2),
        });
        drop(cache);
        self.changed.notify_one();
        Ok(token)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Cached>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// When the cached token should be replaced, and which token that is.
    fn refresh_at(&self) -> Option<(u64, Instant)> {
        self.lock().as_ref().map(|c| (c.generation, c.refresh_at))
    }

    /// Replaces each token before it expires, on a schedule derived from its
    /// expiry, until the source is dropped. It waits for the first token,
    /// which the first call fetches, rather than race that call for it.
    /// Failures are left to the next call, which reports them; tokens are
    /// never logged.
    pub(crate) fn refresh_in_background(source: &Arc<Self>) {
        let weak: Weak<Self> = Arc::downgrade(source);
        let changed = source.changed.clone();
        tokio::spawn(async move {
            let mut backoff = Duration::from_secs(1);
            loop {
                let Some(next) = weak.upgrade().map(|s| s.refresh_at()) else {
                    return;
                };
                let Some((generation, at)) = next else {
                    changed.notified().await;
                    continue;
                };
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {}
                    () = changed.notified() => continue,
                }
                let Some(source) = weak.upgrade() else {
                    return;
                };
                match source.refresh(generation).await {
                    Ok(_) => backoff = Duration::from_secs(1),
                    Err(e) => {
                        tracing::debug!(error = %e, "background token refresh failed");
                        drop(source);
                        tokio::select! {
                            () = tokio::time::sleep(backoff) => {}
                            () = changed.notified() => {}
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(30));
                    }
                }
            }
        });
    }
}

impl Drop for TokenSource {
    fn drop(&mut self) {
        // Wakes the background refresh so it sees the source is gone.
        self.changed.notify_one();
    }
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.credentials)
    }
}

impl Credentials {
    async fn fetch(&self) -> Result<Fetched> {
        match self {
            Self::ServiceAccount(account) => account.fetch().await,
            Self::Adc(adc) => adc.fetch().await,
            #[cfg(test)]
            Self::Fake { fetches, lifetime } => {
                let n = fetches.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                Ok(Fetched {
                    token: format!("token-{n}"),
                    lifetime: *lifetime,
                })
            }
        }
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ServiceAccount(account) => write!(
                f,
                "service account `{}` ({})",
                account.key.client_email, account.origin
            ),
            Self::Adc(_) => f.write_str("application default credentials"),
            #[cfg(test)]
            Self::Fake { .. } => f.write_str("fake credentials"),
        }
    }
}

/// Where a service account key came from.
enum KeyOrigin {
    File(PathBuf),
    AdcEnv(PathBuf),
}

impl fmt::Display for KeyOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(path) => write!(f, "key file `{}`", path.display()),
            Self::AdcEnv(path) => write!(
                f,
                "application default credentials: GOOGLE_APPLICATION_CREDENTIALS=`{}`",
                path.display()
            ),
        }
    }
}

/// The fields of a service account key file bqwrite reads itself.
#[derive(serde::Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: String,
    token_uri: String,
}

impl KeyFile {
    fn is_service_account(path: &Path) -> bool {
        #[derive(serde::Deserialize)]
        struct Kind {
            #[serde(rename = "type")]
            kind: Option<String>,
        }
        std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Kind>(&bytes).ok())
            .is_some_and(|k| k.kind.as_deref() == Some("service_account"))
    }
}

type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// A service account key, exchanged for tokens at its `token_uri`.
struct ServiceAccount {
    key: KeyFile,
    origin: KeyOrigin,
    /// Parses the key and signs with it.
    signer: gcp_auth::CustomServiceAccount,
    http: HttpClient<Https, Full<Bytes>>,
}

impl ServiceAccount {
    fn from_file(
        path: &Path,
        origin: KeyOrigin,
        roots: &[CertificateDer<'static>],
    ) -> Result<Self> {
        let unusable = |e: Box<dyn std::error::Error + Send + Sync>| {
            Error::new(
                ErrorKind::Auth,
                format!(
                    "the credentials file `{}` is not a usable service account key",
                    path.display()
                ),
            )
            .with_source(BoxedError(e))
        };
        let signer =
            gcp_auth::CustomServiceAccount::from_file(path).map_err(|e| unusable(Box::new(e)))?;
        let bytes = std::fs::read(path).map_err(|e| unusable(Box::new(e)))?;
        let key: KeyFile = serde_json::from_slice(&bytes).map_err(|e| unusable(Box::new(e)))?;
        if key.kind.as_deref().is_some_and(|k| k != "service_account") {
            return Err(unusable(
                format!("its type is `{}`", key.kind.unwrap_or_default()).into(),
            ));
        }
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(roots)?)
            .https_or_http()
            .enable_http1()
            .build();
        let http = HttpClient::builder(TokioExecutor::new()).build(https);
        Ok(Self {
            key,
            origin,
            signer,
            http,
        })
    }

    /// A signed JWT assertion for the token endpoint (RFC 7523).
    fn assertion(&self) -> Result<String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let claims = serde_json::json!({
            "iss": self.key.client_email,
            "aud": self.key.token_uri,
            "scope": SCOPE,
            "iat": now,
            "exp": now + 3600,
        });
        let mut jwt = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = self.signer.signer().sign(jwt.as_bytes()).map_err(|e| {
            Error::new(
                ErrorKind::Auth,
                format!("could not sign a token request with {}", self.origin),
            )
            .with_source(e)
        })?;
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(jwt)
    }

    /// Exchanges a fresh assertion for a token; retries a failure to reach
    /// the endpoint and its 5xx and 429 answers twice, nothing else.
    async fn fetch(&self) -> Result<Fetched> {
        let mut backoff = Duration::from_millis(200);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.exchange().await {
                Ok(fetched) => return Ok(fetched),
                Err((error, transient)) if transient && attempt < 3 => {
                    tracing::debug!(%error, attempt, "token request failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
                Err((error, _)) => return Err(error),
            }
        }
    }

    /// One token request; the error says whether retrying may help.
    async fn exchange(&self) -> Result<Fetched, (Error, bool)> {
        let context = format!(
            "could not obtain an access token for service account `{}` ({}) from the token \
             endpoint `{}`",
            self.key.client_email, self.origin, self.key.token_uri
        );
        let body = format!(
            "grant_type={}&assertion={}",
            crate::client::percent_encode(GRANT_TYPE),
            self.assertion().map_err(|e| (e, false))?
        );
        let request = hyper::Request::post(&self.key.token_uri)
            .header(
                hyper::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| {
                let error = Error::new(ErrorKind::Auth, format!("{context}: invalid token_uri"));
                (error.with_source(e), false)
            })?;
        let response = self.http.request(request).await.map_err(|e| {
            let reason = error_chain(&e);
            let error = Error::new(ErrorKind::Auth, format!("{context}: {reason}"));
            (error.with_source(e), true)
        })?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| {
                let error = Error::new(ErrorKind::Auth, format!("{context}: reading the answer"));
                (error.with_source(e), true)
            })?
            .to_bytes();
        if !status.is_success() {
            let transient = status.is_server_error() || status.as_u16() == 429;
            let error = Error::new(
                ErrorKind::Auth,
                format!("{context}: HTTP {status}: {}", refusal_reason(&body)),
            );
            return Err((error, transient));
        }
        #[derive(serde::Deserialize)]
        struct Answer {
            access_token: String,
            expires_in: u64,
        }
        let answer: Answer = serde_json::from_slice(&body).map_err(|e| {
            let error = Error::new(
                ErrorKind::Auth,
                format!("{context}: the answer is not a token (HTTP {status})"),
            );
            (error.with_source(e), false)
        })?;
        Ok(Fetched {
            token: answer.access_token,
            lifetime: Duration::from_secs(answer.expires_in),
        })
    }
}

/// The reason an OAuth endpoint gives (`error: error_description`), or the
/// start of its body.
fn refusal_reason(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Refusal {
        error: String,
        error_description: Option<String>,
    }
    match serde_json::from_slice::<Refusal>(body) {
        Ok(Refusal {
            error,
            error_description: Some(description),
        }) => format!("{error}: {description}"),
        Ok(Refusal { error, .. }) => error,
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text: String = text.chars().take(300).collect();
            if text.trim().is_empty() {
                "(empty body)".to_owned()
            } else {
                text
            }
        }
    }
}

/// An error and its sources, joined with `: `.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(err) = source {
        let next = err.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = err.source();
    }
    text
}

/// Other Application Default Credentials, through gcp_auth.
struct Adc {
    /// The provider found when the client was built, used for the first
    /// token. Every later token comes from a new provider: gcp_auth caches
    /// tokens until its own expiry check, and bqwrite asks for a new token
    /// only when the cached one must be replaced.
    first: Mutex<Option<Arc<dyn gcp_auth::TokenProvider>>>,
}

impl Adc {
    async fn fetch(&self) -> Result<Fetched> {
        let first = self.first.lock().unwrap_or_else(|e| e.into_inner()).take();
        let provider = match first {
            Some(provider) => provider,
            None => gcp_auth::provider().await.map_err(|e| {
                Error::new(
                    ErrorKind::Auth,
                    "the Application Default Credentials are no longer usable",
                )
                .with_source(e)
            })?,
        };
        let token = provider.token(&[SCOPE]).await.map_err(|e| {
            Error::new(
                ErrorKind::Auth,
                format!(
                    "could not obtain an access token from application default credentials \
                     ({}); gcp_auth logs the token endpoint's answer at WARN level \
                     (RUST_LOG=gcp_auth=warn)",
                    error_chain(&e)
                ),
            )
            .with_source(e)
        })?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let expires = u64::try_from(token.expires_at().timestamp()).unwrap_or(0);
        Ok(Fetched {
            token: token.as_str().to_owned(),
            lifetime: Duration::from_secs(expires.saturating_sub(now)),
        })
    }
}

/// A boxed error as an error type.
#[derive(Debug)]
struct BoxedError(Box<dyn std::error::Error + Send + Sync>);

impl fmt::Display for BoxedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for BoxedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(lifetime: Duration) -> Arc<TokenSource> {
        Arc::new(TokenSource::new(Credentials::Fake {
            fetches: std::sync::atomic::AtomicU64::new(0),
            lifetime,
        }))
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_token_is_replaced_and_only_that_one() {
        let source = fake(Duration::from_secs(3600));
        assert_eq!(&*source.token().await.unwrap(), "token-1");
        assert_eq!(&*source.token().await.unwrap(), "token-1", "cached");
        source.invalidate("token-0");
        assert_eq!(
            &*source.token().await.unwrap(),
            "token-1",
            "another token was refused"
        );
        source.invalidate("token-1");
        assert_eq!(&*source.token().await.unwrap(), "token-2");
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_are_replaced_five_minutes_before_expiry() {
        let source = fake(Duration::from_secs(3600));
        TokenSource::refresh_in_background(&source);
        // The refresh waits for the first call's token rather than race it.
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(source.refresh_at().is_none());
        assert_eq!(&*source.token().await.unwrap(), "token-1");
        tokio::time::sleep(Duration::from_secs(3600 - 300 - 20)).await;
        assert_eq!(&*source.token().await.unwrap(), "token-1");
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(
            &*source.token().await.unwrap(),
            "token-2",
            "refreshed before expiry"
        );
        let (_, next) = source.refresh_at().unwrap();
        let left = next - Instant::now();
        assert!(
            left > Duration::from_secs(3200) && left <= Duration::from_secs(3300),
            "{left:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn short_lived_tokens_are_refreshed_at_half_life() {
        let source = fake(Duration::from_secs(60));
        TokenSource::refresh_in_background(&source);
        assert_eq!(&*source.token().await.unwrap(), "token-1");
        tokio::time::sleep(Duration::from_secs(31)).await;
        assert_eq!(&*source.token().await.unwrap(), "token-2");
    }

    #[test]
    fn refusals_are_read_from_oauth_errors() {
        assert_eq!(
            refusal_reason(
                br#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#
            ),
            "invalid_grant: Invalid JWT Signature."
        );
        assert_eq!(
            refusal_reason(br#"{"error":"invalid_grant"}"#),
            "invalid_grant"
        );
        assert_eq!(refusal_reason(b"<html>nope</html>"), "<html>nope</html>");
        assert_eq!(refusal_reason(b""), "(empty body)");
    }
}
