//! URL ingestion: the audio of a job fetched from a URL the client names (the native
//! `audio_url`, ElevenLabs' `cloud_storage_url` / `source_url`) instead of uploaded.
//!
//! The download streams into the same scratch file an upload would, so everything after it
//! (audio validation, storage, the job) is the upload path unchanged, and a failure leaves no job.
//! Calling a URL a client chose is what an SSRF attack needs, so every hop goes through the
//! webhook guard ([`crate::targets::check`]): redirects are followed here, one at a time, each
//! target checked before it is called, and the client's resolver refuses private addresses
//! again when it connects ([`crate::targets::PublicOnlyResolver`], against DNS rebinding).
//! The size limit is counted on the bytes received (a `Content-Length` over it only refuses
//! early), and one deadline covers the whole download.
//! Error messages name the host, never the whole URL: presigned URLs carry credentials.

use std::path::Path;
use std::time::Duration;

use reqwest::Url;
use tokio::io::AsyncWriteExt;

use crate::targets::{self, TargetError};

/// Redirects followed before giving up (browsers and curl stop at about this many).
const MAX_REDIRECTS: usize = 10;

/// Why a URL's audio could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Not http(s), unresolvable, or a private address the guard refuses.
    #[error(transparent)]
    Refused(#[from] TargetError),
    #[error("could not connect to {host} to download the audio: {reason}")]
    Unreachable { host: String, reason: String },
    #[error("{host} answered HTTP {status} for the audio URL")]
    Status { host: String, status: u16 },
    #[error("the audio at the URL is larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("downloading the audio from {host} took longer than {secs} s")]
    Timeout { host: String, secs: u64 },
    #[error("{host} redirected more than {MAX_REDIRECTS} times")]
    TooManyRedirects { host: String },
    #[error("could not save the downloaded audio")]
    Io(#[source] std::io::Error),
}

impl FetchError {
    /// The machine-readable reason sent beside the error code.
    pub fn reason(&self) -> &'static str {
        match self {
            FetchError::Refused(_) => "target_not_allowed",
            FetchError::Unreachable { .. } => "unreachable",
            FetchError::Status { .. } => "http_status",
            FetchError::TooLarge { .. } => "too_large",
            FetchError::Timeout { .. } => "timeout",
            FetchError::TooManyRedirects { .. } => "too_many_redirects",
            FetchError::Io(_) => "io",
        }
    }
}

/// Downloads audio from client-given URLs.
#[derive(Debug, Clone)]
pub struct AudioUrlFetcher {
    client: reqwest::Client,
    timeout: Duration,
    allow_private_targets: bool,
}

fn host_of(url: &Url) -> String {
    url.host_str().unwrap_or_default().to_owned()
}

/// A transport error as a [`FetchError`]: the guard's refusal when the resolver refused the
/// name, else unreachable with the innermost cause ("Connection refused"), since reqwest's own
/// message repeats the URL.
fn transport_error(url: &Url, error: &reqwest::Error) -> FetchError {
    let mut cause: &dyn std::error::Error = error;
    loop {
        if let Some(refused) = cause.downcast_ref::<TargetError>() {
            return FetchError::Refused(refused.clone());
        }
        match cause.source() {
            Some(source) => cause = source,
            None => break,
        }
    }
    FetchError::Unreachable {
        host: host_of(url),
        reason: cause.to_string(),
    }
}

impl AudioUrlFetcher {
    /// A fetcher whose downloads each take at most `timeout`; private targets are called only
    /// when `allow_private_targets` (the webhook setting).
    ///
    /// # Errors
    /// When the HTTP client cannot be built (TLS set-up).
    pub fn new(timeout: Duration, allow_private_targets: bool) -> reqwest::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("dalston/", env!("CARGO_PKG_VERSION")));
        if !allow_private_targets {
            builder = builder.dns_resolver(targets::PublicOnlyResolver);
        }
        let client = builder.build()?;
        Ok(Self {
            client,
            timeout,
            allow_private_targets,
        })
    }

    /// Streams the body at `url` (after its redirects) into `path`, refusing more than `limit`
    /// bytes; returns the size.
    ///
    /// # Errors
    /// A [`FetchError`] saying why nothing usable was fetched.
    pub async fn download(&self, url: &str, path: &Path, limit: u64) -> Result<u64, FetchError> {
        let url = Url::parse(url).map_err(|_| TargetError::NotHttp(url.to_owned()))?;
        let host = host_of(&url);
        tokio::time::timeout(self.timeout, self.follow(url, path, limit))
            .await
            .unwrap_or(Err(FetchError::Timeout {
                host,
                secs: self.timeout.as_secs(),
            }))
    }

    async fn follow(&self, mut url: Url, path: &Path, limit: u64) -> Result<u64, FetchError> {
        for _ in 0..=MAX_REDIRECTS {
            targets::check(url.as_str(), self.allow_private_targets).await?;
            let response = self
                .client
                .get(url.clone())
                .send()
                .await
                .map_err(|error| transport_error(&url, &error))?;
            let status = response.status();
            if status.is_redirection()
                && let Some(location) = response.headers().get(reqwest::header::LOCATION)
            {
                let location = location.to_str().unwrap_or_default();
                url = url
                    .join(location)
                    .map_err(|_| TargetError::NotHttp(location.to_owned()))?;
                continue;
            }
            if !status.is_success() {
                return Err(FetchError::Status {
                    host: host_of(&url),
                    status: status.as_u16(),
                });
            }
            return save(response, path, limit).await;
        }
        Err(FetchError::TooManyRedirects {
            host: host_of(&url),
        })
    }
}

async fn save(mut response: reqwest::Response, path: &Path, limit: u64) -> Result<u64, FetchError> {
    if response
        .content_length()
        .is_some_and(|length| length > limit)
    {
        return Err(FetchError::TooLarge { limit });
    }
    let url = response.url().clone();
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(FetchError::Io)?;
    let mut size = 0u64;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| transport_error(&url, &error))?
    {
        size += chunk.len() as u64;
        if size > limit {
            return Err(FetchError::TooLarge { limit });
        }
        file.write_all(&chunk).await.map_err(FetchError::Io)?;
    }
    file.flush().await.map_err(FetchError::Io)?;
    Ok(size)
}
