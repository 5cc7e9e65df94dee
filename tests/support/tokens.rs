//! A local OAuth token endpoint for the production-path tests: it checks
//! the signed JWT assertion of a service account key (RFC 7523, as Google's
//! endpoint does), issues bearer tokens that expire, and can revoke them or
//! refuse every request. The emulator checks tokens with [`TokenServer::checker`].

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use ring::signature::{KeyPair as _, RSA_PKCS1_2048_8192_SHA256, RsaKeyPair, UnparsedPublicKey};
use rustls::pki_types::PrivatePkcs8KeyDer;
use rustls::pki_types::pem::PemObject;
use serde_json::{Value, json};

use super::tls::{TestCa, TlsListener};

/// The throwaway RSA key of the test service account (see tests/fixtures).
pub const KEY_PEM: &str = include_str!("../fixtures/test_service_account_key.pem");
pub const CLIENT_EMAIL: &str = "writer@test-project.iam.gserviceaccount.com";
const SCOPE: &str = "https://www.googleapis.com/auth/bigquery.insertdata";
const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

pub struct TokenServer {
    /// The endpoint's URL, for the key file's `token_uri`.
    pub token_uri: String,
    state: Arc<Tokens>,
}

struct Tokens {
    public_key: Vec<u8>,
    token_uri: OnceLock<String>,
    lifetime_secs: AtomicU64,
    refuse: AtomicBool,
    /// Every token issued, with its expiry.
    issued: Mutex<HashMap<String, SystemTime>>,
    fetches: AtomicUsize,
    fetched: tokio::sync::Notify,
}

impl TokenServer {
    /// An HTTPS token endpoint on 127.0.0.1 with a certificate of `ca`;
    /// tokens live `lifetime` (whole seconds).
    pub async fn start(ca: &TestCa, lifetime: Duration) -> Self {
        let der = PrivatePkcs8KeyDer::from_pem_slice(KEY_PEM.as_bytes()).unwrap();
        let key = RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).unwrap();
        let state = Arc::new(Tokens {
            public_key: key.public_key().as_ref().to_vec(),
            token_uri: OnceLock::new(),
            lifetime_secs: AtomicU64::new(lifetime.as_secs()),
            refuse: AtomicBool::new(false),
            issued: Mutex::new(HashMap::new()),
            fetches: AtomicUsize::new(0),
            fetched: tokio::sync::Notify::new(),
        });
        let listener = TlsListener::bind(ca.server_config(&[b"http/1.1"])).await;
        let addr = axum::serve::Listener::local_addr(&listener).unwrap();
        let token_uri = format!("https://127.0.0.1:{}/token", addr.port());
        state.token_uri.set(token_uri.clone()).unwrap();
        let router = Router::new()
            .route("/token", post(issue))
            .with_state(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { token_uri, state }
    }

    /// A check for [`bqwrite_emulator::EmulatorBuilder::require_bearer_token`]:
    /// the token was issued here, is not revoked and has not expired.
    pub fn checker(&self) -> impl Fn(&str) -> bool + Send + Sync + 'static {
        let state = self.state.clone();
        move |token| {
            let issued = state.issued.lock().unwrap();
            issued
                .get(token)
                .is_some_and(|expiry| SystemTime::now() < *expiry)
        }
    }

    /// Every token issued so far is refused from now on, as after expiry.
    pub fn expire_all(&self) {
        let mut issued = self.state.issued.lock().unwrap();
        for expiry in issued.values_mut() {
            *expiry = UNIX_EPOCH;
        }
    }

    /// Refuse every token request with 401 `invalid_grant`.
    pub fn refuse(&self, refuse: bool) {
        self.state.refuse.store(refuse, Ordering::SeqCst);
    }

    /// How many tokens were issued.
    pub fn fetches(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` tokens were issued.
    pub async fn wait_for_fetches(&self, n: usize) {
        loop {
            let fetched = self.state.fetched.notified();
            if self.fetches() >= n {
                return;
            }
            fetched.await;
        }
    }

    /// A service account key file whose `token_uri` is this endpoint.
    pub fn key_file_json(&self) -> String {
        json!({
            "type": "service_account",
            "project_id": "test-project",
            "private_key_id": "0123456789abcdef",
            "private_key": KEY_PEM,
            "client_email": CLIENT_EMAIL,
            "client_id": "1234567890",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri,
        })
        .to_string()
    }

    pub fn write_key_file(&self, path: &Path) {
        std::fs::write(path, self.key_file_json()).unwrap();
    }
}

fn refusal(status: StatusCode, description: &str) -> (StatusCode, axum::Json<Value>) {
    (
        status,
        axum::Json(json!({"error": "invalid_grant", "error_description": description})),
    )
}

/// The token endpoint: `grant_type=urn:...:jwt-bearer&assertion=<JWT>`.
async fn issue(State(state): State<Arc<Tokens>>, body: String) -> (StatusCode, axum::Json<Value>) {
    if state.refuse.load(Ordering::SeqCst) {
        return refusal(StatusCode::UNAUTHORIZED, "Invalid JWT Signature.");
    }
    let form: HashMap<&str, &str> = body
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .collect();
    if form.get("grant_type").copied()
        != Some("urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer")
    {
        return refusal(StatusCode::BAD_REQUEST, "unsupported grant_type");
    }
    let Some(assertion) = form.get("assertion") else {
        return refusal(StatusCode::BAD_REQUEST, "no assertion");
    };
    if let Err(reason) = verify(&state, assertion) {
        return refusal(StatusCode::BAD_REQUEST, &reason);
    }
    let n = state.fetches.fetch_add(1, Ordering::SeqCst) + 1;
    let token = format!("test-token-{n}");
    let lifetime = state.lifetime_secs.load(Ordering::SeqCst);
    state.issued.lock().unwrap().insert(
        token.clone(),
        SystemTime::now() + Duration::from_secs(lifetime),
    );
    state.fetched.notify_waiters();
    (
        StatusCode::OK,
        axum::Json(json!({"access_token": token, "expires_in": lifetime, "token_type": "Bearer"})),
    )
}

/// Checks the assertion's signature with the account's public key and its
/// claims as Google's endpoint does.
fn verify(state: &Tokens, jwt: &str) -> Result<(), String> {
    let (signed, signature) = jwt.rsplit_once('.').ok_or("not a JWT")?;
    let (header, claims) = signed.split_once('.').ok_or("not a JWT")?;
    let decode = |part: &str| BASE64URL.decode(part).map_err(|e| e.to_string());
    let header: Value = serde_json::from_slice(&decode(header)?).map_err(|e| e.to_string())?;
    if header["alg"] != "RS256" {
        return Err(format!("alg {}", header["alg"]));
    }
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &state.public_key)
        .verify(signed.as_bytes(), &decode(signature)?)
        .map_err(|_| "Invalid JWT Signature.".to_owned())?;
    let claims: Value = serde_json::from_slice(&decode(claims)?).map_err(|e| e.to_string())?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let checks = [
        (claims["iss"] == CLIENT_EMAIL, "iss"),
        (
            claims["aud"].as_str() == state.token_uri.get().map(String::as_str),
            "aud",
        ),
        (
            claims["scope"]
                .as_str()
                .is_some_and(|s| s.split(' ').any(|s| s == SCOPE)),
            "scope",
        ),
        (claims["exp"].as_u64().is_some_and(|exp| exp > now), "exp"),
        (
            claims["iat"].as_u64().is_some_and(|iat| iat <= now + 60),
            "iat",
        ),
    ];
    match checks.iter().find(|(ok, _)| !ok) {
        Some((_, claim)) => Err(format!("Invalid JWT: bad `{claim}` claim")),
        None => Ok(()),
    }
}
