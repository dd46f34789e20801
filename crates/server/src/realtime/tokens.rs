//! Single-use tokens for opening a realtime session from a browser, which cannot set headers
//! on a WebSocket: `POST /v1/single-use-token/realtime_scribe` returns one, good for one
//! session within [`TOKEN_LIFETIME`]. Only its SHA-256 is stored.

use std::time::Duration;

/// Prefix of every token, so it is never mistaken for an API key.
pub const TOKEN_PREFIX: &str = "tk_";
/// What a token is for (ElevenLabs' name for its realtime product).
pub const REALTIME_TOKEN_PURPOSE: &str = "realtime_scribe";
/// How long a token stays usable (ElevenLabs': 15 minutes).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);

pub fn hash_token(token: &str) -> String {
    crate::auth::hash_key(token)
}
