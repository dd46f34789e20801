//! S3-compatible blob storage (AWS S3, MinIO and the like) for the distributed mode, through
//! `object_store`'s S3 client: the same [`BlobStore`] API, with uploads streamed as multipart
//! uploads (one part in memory at a time) and aborted when the stream fails.

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::prefix::PrefixStore;

use crate::{BlobStore, StoreError};

/// Region used when none is configured (S3-compatible servers usually ignore it).
pub const DEFAULT_REGION: &str = "us-east-1";

/// Where and how to reach the bucket.
#[derive(Clone, Default)]
pub struct S3Settings {
    /// `s3://bucket` or `s3://bucket/prefix`.
    pub url: String,
    /// `https://…` or `http://…` of an S3-compatible server; AWS when absent.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// `bucket.endpoint/key` (AWS style) instead of `endpoint/bucket/key` (path style, what
    /// MinIO-like servers expect).
    pub virtual_hosted_style: bool,
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("url", &self.url)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("virtual_hosted_style", &self.virtual_hosted_style)
            .finish()
    }
}

impl S3Settings {
    /// The bucket and key prefix of `url`.
    ///
    /// # Errors
    /// A URL that is not `s3://bucket[/prefix]`.
    pub fn bucket_and_prefix(&self) -> Result<(&str, &str), StoreError> {
        let rest = self.url.strip_prefix("s3://").ok_or_else(|| {
            StoreError::BlobConfig(format!(
                "unsupported storage URL {:?}: expected s3://bucket[/prefix]",
                self.url
            ))
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(StoreError::BlobConfig(format!(
                "storage URL {:?} names no bucket",
                self.url
            )));
        }
        Ok((bucket, prefix.trim_matches('/')))
    }
}

impl BlobStore {
    /// Opens an S3 bucket. Nothing is contacted yet: a wrong endpoint or credentials show at
    /// the first operation (`/ready` pings the store).
    ///
    /// # Errors
    /// A malformed URL or endpoint.
    pub fn s3(settings: &S3Settings) -> Result<Self, StoreError> {
        let (bucket, prefix) = settings.bucket_and_prefix()?;
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(settings.region.as_deref().unwrap_or(DEFAULT_REGION))
            .with_virtual_hosted_style_request(settings.virtual_hosted_style);
        if let Some(endpoint) = &settings.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        if let Some(key) = &settings.access_key_id {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = &settings.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        let store = builder.build().map_err(|source| StoreError::Blob {
            key: settings.url.clone(),
            source,
        })?;
        let inner: Arc<dyn ObjectStore> = if prefix.is_empty() {
            Arc::new(store)
        } else {
            Arc::new(PrefixStore::new(store, prefix))
        };
        Ok(Self::new(inner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_bucket_and_an_optional_prefix() {
        let settings = |url: &str| S3Settings {
            url: url.into(),
            ..S3Settings::default()
        };
        let with_prefix = settings("s3://audio/dalston/prod/");
        assert_eq!(
            with_prefix.bucket_and_prefix().ok(),
            Some(("audio", "dalston/prod"))
        );
        let plain = settings("s3://audio");
        assert_eq!(plain.bucket_and_prefix().ok(), Some(("audio", "")));
        assert!(settings("s3://").bucket_and_prefix().is_err());
        assert!(settings("file:///x").bucket_and_prefix().is_err());
    }

    #[test]
    fn the_secret_is_not_printed() {
        let settings = S3Settings {
            url: "s3://b".into(),
            secret_access_key: Some("very-secret".into()),
            ..S3Settings::default()
        };
        assert!(!format!("{settings:?}").contains("very-secret"));
    }
}
