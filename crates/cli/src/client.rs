//! A small HTTP client of the native API, for the CLI commands.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

/// Default address of a local `dalston serve`.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8000";

#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    key: Option<String>,
}

/// The key to use: the flag/env value, else the admin key a local server wrote into its data dir.
pub fn resolve_key(explicit: Option<String>, data_dir: Option<&Path>) -> Option<String> {
    explicit.or_else(|| {
        let dir = data_dir.map(Path::to_path_buf).or_else(|| {
            std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/dalston/data"))
        })?;
        std::fs::read_to_string(dir.join("admin.key"))
            .ok()
            .map(|key| key.trim().to_owned())
    })
}

impl Client {
    pub fn new(base: &str, key: Option<String>) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_owned(),
            key,
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.http.request(method, format!("{}{path}", self.base));
        match &self.key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    /// Sends a request and returns the body, turning API errors into readable messages.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> anyhow::Result<reqwest::Response> {
        let response = request.send().await.with_context(|| {
            format!("cannot reach the Dalston server at {}; start one with `dalston serve` or pass --server", self.base)
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        let message = body["detail"]["message"]
            .as_str()
            .unwrap_or("no details")
            .to_owned();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            bail!("{message} (pass --api-key or set DALSTON_API_KEY)");
        }
        bail!("the server answered {status}: {message}")
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::GET, path)
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::POST, path)
    }
}
