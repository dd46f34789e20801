//! [Standard Webhooks](https://www.standardwebhooks.com) signatures: `webhook-id`,
//! `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256(key, "id.timestamp.body")>`,
//! where the key is the base64 part of a `whsec_…` secret.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Prefix of webhook signing secrets.
pub const SECRET_PREFIX: &str = "whsec_";

/// A new secret: `whsec_` + base64 of 32 random bytes.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// The secret that signs deliveries to jobs' own `webhook_url`: the configured one, else the one
/// in `<data dir>/webhook.secret`, created (mode 0600) on first start.
///
/// # Errors
/// When the file cannot be read or written.
pub fn load_or_create_secret(
    configured: Option<&secrecy::SecretString>,
    data_dir: &std::path::Path,
) -> std::io::Result<secrecy::SecretString> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    if let Some(secret) = configured {
        return Ok(secret.clone());
    }
    let path = data_dir.join("webhook.secret");
    if let Ok(existing) = std::fs::read_to_string(&path) {
        return Ok(secrecy::SecretString::from(existing.trim().to_owned()));
    }
    let secret = generate_secret();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    file.write_all(secret.as_bytes())?;
    tracing::info!(path = %path.display(), "generated the webhook signing secret for per-job webhook URLs");
    Ok(secrecy::SecretString::from(secret))
}

/// The signing key of a secret (the decoded base64 after `whsec_`; a secret that is not in that
/// form signs with its raw bytes, as the Standard Webhooks libraries do).
fn key(secret: &str) -> Vec<u8> {
    secret
        .strip_prefix(SECRET_PREFIX)
        .and_then(|encoded| STANDARD.decode(encoded).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec())
}

/// The `webhook-signature` header value for a message.
#[expect(
    clippy::expect_used,
    reason = "HMAC accepts keys of any length; new_from_slice cannot fail"
)]
pub fn sign(secret: &str, message_id: &str, timestamp_secs: i64, body: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(&key(secret)).expect("HMAC takes any key length");
    mac.update(format!("{message_id}.{timestamp_secs}.{body}").as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `ElevenLabs-Signature` header: `t=<unix>,v0=<hex HMAC-SHA256(secret, "t.body")>`, keyed
/// with the secret's bytes as the ElevenLabs SDK's `webhooks.construct_event` verifies it.
#[expect(
    clippy::expect_used,
    reason = "HMAC accepts keys of any length; new_from_slice cannot fail"
)]
pub fn sign_elevenlabs(secret: &str, timestamp_secs: i64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(format!("{timestamp_secs}.{body}").as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("t={timestamp_secs},v0={hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example from the Standard Webhooks specification's reference test suite.
    #[test]
    fn matches_the_standard_webhooks_reference_vector() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn generated_secrets_have_the_prefix_and_32_bytes() {
        let secret = generate_secret();
        assert!(secret.starts_with(SECRET_PREFIX));
        assert_eq!(key(&secret).len(), 32);
    }
}
