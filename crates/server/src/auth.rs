//! API keys and scopes.
//!
//! A key is `dk_` + 43 url-safe random characters, shown once at creation. Only its SHA-256 is
//! stored; a request's key is hashed and looked up by hash, then the hashes are compared in
//! constant time. Authentication runs once per request ([`authenticate`]) and records the
//! outcome; each route then demands its [`Access`] ([`require`]), so a route cannot forget it.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use dalston_core::KeyId;
use dalston_store::clock::now_ms;
use dalston_store::{ApiKeyRecord, MetadataStore};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use crate::state::AppState;

/// Prefix of every Dalston API key.
pub const KEY_PREFIX: &str = "dk_";

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Scope {
    #[serde(rename = "jobs:read")]
    JobsRead,
    #[serde(rename = "jobs:write")]
    JobsWrite,
    #[serde(rename = "realtime")]
    Realtime,
    #[serde(rename = "webhooks")]
    Webhooks,
    /// Everything, including key management.
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 5] = [
        Scope::JobsRead,
        Scope::JobsWrite,
        Scope::Realtime,
        Scope::Webhooks,
        Scope::Admin,
    ];
    /// Scopes of a key created without naming any.
    pub const DEFAULT: [Scope; 3] = [Scope::JobsRead, Scope::JobsWrite, Scope::Realtime];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::JobsRead => "jobs:read",
            Scope::JobsWrite => "jobs:write",
            Scope::Realtime => "realtime",
            Scope::Webhooks => "webhooks",
            Scope::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == s).ok_or_else(|| {
            format!("unknown scope {s:?} (expected one of jobs:read, jobs:write, realtime, webhooks, admin)")
        })
    }
}

/// What a route demands of the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No key needed (`/health`, `/ready`).
    Public,
    /// Any valid key.
    Authenticated,
    /// A key with this scope (or `admin`).
    Scope(Scope),
}

/// The caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// `None` when authentication is disabled (`--auth none`).
    pub key_id: Option<KeyId>,
    pub scopes: Vec<Scope>,
}

impl Principal {
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&Scope::Admin) || self.scopes.contains(&scope)
    }

    pub fn is_admin(&self) -> bool {
        self.scopes.contains(&Scope::Admin)
    }
}

/// Outcome of authentication, stored in the request's extensions.
#[derive(Debug, Clone)]
pub enum Authentication {
    Anonymous,
    Invalid,
    Authenticated(Principal),
}

/// A freshly generated key: the secret (shown once) and the record to store.
#[derive(Debug)]
pub struct NewKey {
    pub secret: SecretString,
    pub record: ApiKeyRecord,
}

pub fn hash_key(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Generates a key with 256 bits of randomness.
pub fn generate_key(name: &str, scopes: &[Scope]) -> NewKey {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    let secret = format!(
        "{KEY_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    key_record(name, scopes, secret)
}

/// The record for a given secret (used for `DALSTON_ADMIN_KEY`).
pub fn key_record(name: &str, scopes: &[Scope], secret: String) -> NewKey {
    let record = ApiKeyRecord {
        id: KeyId::generate(),
        name: name.to_owned(),
        prefix: secret.chars().take(10).collect(),
        key_hash: hash_key(&secret),
        scopes: scopes
            .iter()
            .map(|scope| scope.as_str().to_owned())
            .collect(),
        created_at_ms: now_ms(),
        last_used_at_ms: None,
        revoked_at_ms: None,
    };
    NewKey {
        secret: SecretString::from(secret),
        record,
    }
}

/// The key sent with a request: `Authorization: Bearer dk_…` or `xi-api-key: dk_…`.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))?;
        return Some(token.trim());
    }
    headers
        .get("xi-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// Resolves a presented secret to its principal.
///
/// # Errors
/// Store failures.
pub async fn resolve_key(
    store: &dyn MetadataStore,
    secret: &str,
) -> Result<Option<Principal>, ApiError> {
    if !secret.starts_with(KEY_PREFIX) {
        return Ok(None);
    }
    let hash = hash_key(secret);
    let Some(record) = store.find_key_by_hash(&hash).await? else {
        return Ok(None);
    };
    let matches: bool = record.key_hash.as_bytes().ct_eq(hash.as_bytes()).into();
    if !matches || record.revoked_at_ms.is_some() {
        return Ok(None);
    }
    if let Err(error) = store.touch_key(&record.id, now_ms()).await {
        tracing::warn!(error = %error, "could not record key use");
    }
    let scopes = record
        .scopes
        .iter()
        .filter_map(|scope| scope.parse().ok())
        .collect();
    Ok(Some(Principal {
        key_id: Some(record.id),
        scopes,
    }))
}

/// A credential in a WebSocket URL, for clients that cannot set headers (browsers).
enum QueryCredential {
    /// `?api_key=dk_…`
    ApiKey(String),
    /// `?token=tk_…`, a single-use realtime token.
    Token(String),
}

/// The credential in the query of a WebSocket upgrade. Only upgrades read it: a key in the URL
/// of an ordinary request would end up in proxies' logs for no reason (request spans here log
/// the path only, never the query).
fn websocket_credential(request: &Request) -> Option<QueryCredential> {
    let upgrade = request
        .headers()
        .get(axum::http::header::UPGRADE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.eq_ignore_ascii_case("websocket"));
    if !upgrade {
        return None;
    }
    let axum::extract::Query(pairs) =
        axum::extract::Query::<Vec<(String, String)>>::try_from_uri(request.uri()).ok()?;
    pairs
        .into_iter()
        .find_map(|(name, value)| match name.as_str() {
            "token" => Some(QueryCredential::Token(value)),
            "api_key" => Some(QueryCredential::ApiKey(value)),
            _ => None,
        })
}

/// A single-use token opens one realtime session for its key, with the `realtime` scope only.
async fn resolve_token(state: &AppState, token: &str) -> Result<Option<Principal>, ApiError> {
    if !token.starts_with(crate::realtime::TOKEN_PREFIX) {
        return Ok(None);
    }
    let owner = state
        .realtime_sessions
        .consume_single_use_token(
            &crate::realtime::hash_token(token),
            crate::realtime::REALTIME_TOKEN_PURPOSE,
            now_ms(),
        )
        .await?;
    Ok(owner.map(|key_id| Principal {
        key_id,
        scopes: vec![Scope::Realtime],
    }))
}

/// Middleware on the whole router: records who is calling, rejects nothing.
pub async fn authenticate(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let outcome = if state.auth_disabled {
        Authentication::Authenticated(Principal {
            key_id: None,
            scopes: vec![Scope::Admin],
        })
    } else {
        let resolved = match presented_key(request.headers()) {
            Some(secret) => resolve_key(state.store.as_ref(), secret).await,
            None => match websocket_credential(&request) {
                Some(QueryCredential::ApiKey(secret)) => {
                    resolve_key(state.store.as_ref(), &secret).await
                }
                Some(QueryCredential::Token(token)) => resolve_token(&state, &token).await,
                None => {
                    request.extensions_mut().insert(Authentication::Anonymous);
                    return next.run(request).await;
                }
            },
        };
        match resolved {
            Ok(Some(principal)) => Authentication::Authenticated(principal),
            Ok(None) => Authentication::Invalid,
            Err(error) => return error.into_response(),
        }
    };
    request.extensions_mut().insert(outcome);
    next.run(request).await
}

/// Per-route middleware: 401 without a valid key, 403 without the scope.
pub async fn require(access: Access, request: Request, next: Next) -> Response {
    let principal = match request.extensions().get::<Authentication>() {
        Some(Authentication::Authenticated(principal)) => principal.clone(),
        Some(Authentication::Invalid) => {
            return ApiError::Unauthorized("the API key is not valid or was revoked".into())
                .into_response();
        }
        Some(Authentication::Anonymous) | None => {
            return ApiError::Unauthorized(
                "an API key is required: send `Authorization: Bearer dk_…` or `xi-api-key: dk_…`"
                    .into(),
            )
            .into_response();
        }
    };
    if let Access::Scope(scope) = access
        && !principal.has(scope)
    {
        return ApiError::Forbidden(format!("this API key lacks the `{scope}` scope"))
            .into_response();
    }
    let mut request = request;
    request.extensions_mut().insert(principal);
    next.run(request).await
}

/// Creates the admin key on first start. With `DALSTON_ADMIN_KEY` set, that secret becomes the
/// admin key; otherwise one is generated and written to `admin.key` (mode 0600) in the data
/// dir; only the file's path is logged, never the secret.
///
/// # Errors
/// Store or file failures.
pub async fn bootstrap_admin_key(
    store: &dyn MetadataStore,
    configured: Option<&SecretString>,
    data_dir: &std::path::Path,
) -> anyhow::Result<()> {
    if let Some(secret) = configured {
        let secret = secret.expose_secret();
        anyhow::ensure!(
            secret.starts_with(KEY_PREFIX) && secret.len() >= 24,
            "DALSTON_ADMIN_KEY must start with {KEY_PREFIX} and be at least 24 characters long"
        );
        if store.find_key_by_hash(&hash_key(secret)).await?.is_none() {
            store
                .insert_key(
                    &key_record(
                        "admin (DALSTON_ADMIN_KEY)",
                        &[Scope::Admin],
                        secret.to_owned(),
                    )
                    .record,
                )
                .await?;
            tracing::info!("created the admin key given in DALSTON_ADMIN_KEY");
        }
        return Ok(());
    }
    if store.count_active_keys().await? > 0 {
        return Ok(());
    }
    let key = generate_key("admin", &[Scope::Admin]);
    let path = data_dir.join("admin.key");
    write_secret_file(&path, key.secret.expose_secret())?;
    store.insert_key(&key.record).await?;
    tracing::info!(path = %path.display(), "generated an admin API key; it is in this file");
    Ok(())
}

fn write_secret_file(path: &std::path::Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(secret.as_bytes())?;
    file.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_documented_shape_and_are_stored_hashed() {
        let key = generate_key("test", &Scope::DEFAULT);
        let secret = key.secret.expose_secret();
        assert!(secret.starts_with("dk_"));
        assert_eq!(secret.len(), 3 + 43);
        assert_eq!(key.record.key_hash, hash_key(secret));
        assert!(!key.record.key_hash.contains(secret));
        assert_eq!(
            key.record.scopes,
            vec!["jobs:read", "jobs:write", "realtime"]
        );
    }

    #[test]
    fn admin_implies_every_scope() {
        let admin = Principal {
            key_id: None,
            scopes: vec![Scope::Admin],
        };
        assert!(Scope::ALL.iter().all(|scope| admin.has(*scope)));
        let reader = Principal {
            key_id: None,
            scopes: vec![Scope::JobsRead],
        };
        assert!(reader.has(Scope::JobsRead) && !reader.has(Scope::JobsWrite));
    }

    #[test]
    fn keys_are_read_from_either_header() {
        let mut headers = HeaderMap::new();
        headers.insert("xi-api-key", "dk_abc".parse().expect("header"));
        assert_eq!(presented_key(&headers), Some("dk_abc"));
        headers.insert(
            axum::http::header::AUTHORIZATION,
            "Bearer dk_xyz".parse().expect("header"),
        );
        assert_eq!(presented_key(&headers), Some("dk_xyz"));
    }

    #[test]
    fn scope_names_round_trip() {
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
        }
        assert!("root".parse::<Scope>().is_err());
    }
}
