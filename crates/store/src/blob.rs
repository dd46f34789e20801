//! Blob storage for audio and artifacts, through `object_store` so the local filesystem
//! (embedded) and S3-compatible servers (distributed) are one code path.

use std::path::Path as LocalPath;
use std::sync::Arc;

use bytes::Bytes;
use dalston_core::{JobId, TaskId};
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use tokio::io::AsyncWriteExt;

use crate::StoreError;

/// Where each kind of blob lives. All blobs of a job share the `jobs/{job_id}/` prefix so a
/// job can be deleted with one prefix delete.
#[derive(Debug, Clone, Copy)]
pub struct BlobKey;

impl BlobKey {
    pub fn job_prefix(job_id: &JobId) -> String {
        format!("jobs/{job_id}")
    }

    pub fn original_audio(job_id: &JobId) -> String {
        format!("jobs/{job_id}/audio/original")
    }

    pub fn task_artifact(job_id: &JobId, task_id: &TaskId, name: &str) -> String {
        format!("jobs/{job_id}/tasks/{task_id}/{name}")
    }

    pub fn transcript(job_id: &JobId) -> String {
        format!("jobs/{job_id}/transcript.json")
    }
}

/// Errors from a byte stream being stored (an upload cut short, a limit exceeded).
pub type StreamError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Clone)]
pub struct BlobStore {
    inner: Arc<dyn ObjectStore>,
}

impl BlobStore {
    /// Opens the local store named by a `DALSTON_STORAGE_URL` of `file:///abs/path` (S3: [`BlobStore::s3`]).
    ///
    /// # Errors
    /// An unsupported scheme or a directory that cannot be created.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        let Some(path) = url.strip_prefix("file://") else {
            return Err(StoreError::BlobConfig(format!(
                "unsupported storage URL {url:?}: expected file:///absolute/path"
            )));
        };
        std::fs::create_dir_all(path)?;
        let local = LocalFileSystem::new_with_prefix(path)
            .map_err(|source| StoreError::Blob {
                key: path.to_owned(),
                source,
            })?
            .with_automatic_cleanup(true);
        Ok(Self {
            inner: Arc::new(local),
        })
    }

    /// Wraps any `object_store` implementation (tests use the in-memory one).
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        Self { inner }
    }

    fn error(key: &str) -> impl FnOnce(object_store::Error) -> StoreError + '_ {
        move |source| StoreError::Blob {
            key: key.to_owned(),
            source,
        }
    }

    pub async fn put_bytes(&self, key: &str, bytes: Bytes) -> Result<(), StoreError> {
        self.inner
            .put(&Path::from(key), PutPayload::from(bytes))
            .await
            .map_err(Self::error(key))?;
        Ok(())
    }

    /// Streams `chunks` into the blob without holding more than a part in memory. On a stream
    /// error the partial upload is aborted, so no truncated blob becomes visible.
    ///
    /// # Errors
    /// The stream's own error (returned as `Err(Ok(e))`) or a storage error (`Err(Err(e))`).
    pub async fn put_stream<S>(
        &self,
        key: &str,
        mut chunks: S,
    ) -> Result<u64, Result<StreamError, StoreError>>
    where
        S: Stream<Item = Result<Bytes, StreamError>> + Unpin,
    {
        let upload = self
            .inner
            .put_multipart(&Path::from(key))
            .await
            .map_err(|e| Err(Self::error(key)(e)))?;
        let mut writer = WriteMultipart::new(upload);
        let mut size = 0u64;
        while let Some(chunk) = chunks.next().await {
            match chunk {
                Ok(bytes) => {
                    size += bytes.len() as u64;
                    writer
                        .wait_for_capacity(4)
                        .await
                        .map_err(|e| Err(Self::error(key)(e)))?;
                    writer.put(bytes);
                }
                Err(stream_error) => {
                    // The abort's own failure matters less than the reason the upload stopped.
                    let _ = writer.abort().await;
                    return Err(Ok(stream_error));
                }
            }
        }
        writer
            .finish()
            .await
            .map_err(|e| Err(Self::error(key)(e)))?;
        Ok(size)
    }

    /// Streams a local file into the blob, one part at a time.
    ///
    /// # Errors
    /// Reading the file or writing the blob failed; no partial blob is left.
    pub async fn put_file(&self, key: &str, source: &LocalPath) -> Result<u64, StoreError> {
        const PART_BYTES: usize = 1 << 20;
        let file = tokio::fs::File::open(source).await?;
        // The state is the file while more of it may follow.
        let parts = futures::stream::unfold(Some(file), |file| async move {
            let mut file = file?;
            let mut part = vec![0u8; PART_BYTES];
            let mut filled = 0;
            while filled < PART_BYTES {
                match tokio::io::AsyncReadExt::read(&mut file, &mut part[filled..]).await {
                    Ok(0) => break,
                    Ok(read) => filled += read,
                    Err(error) => return Some((Err(Box::new(error) as StreamError), None)),
                }
            }
            part.truncate(filled);
            let more = (filled == PART_BYTES).then_some(file);
            (filled > 0).then(|| (Ok(Bytes::from(part)), more))
        });
        self.put_stream(key, Box::pin(parts))
            .await
            .map_err(|error| match error {
                Ok(stream_error) => StoreError::Io(std::io::Error::other(stream_error)),
                Err(store_error) => store_error,
            })
    }

    pub async fn get_bytes(&self, key: &str) -> Result<Bytes, StoreError> {
        let result = self
            .inner
            .get(&Path::from(key))
            .await
            .map_err(Self::error(key))?;
        result.bytes().await.map_err(Self::error(key))
    }

    /// The blob as a byte stream (for downloads that should not be buffered).
    pub async fn get_stream(
        &self,
        key: &str,
    ) -> Result<impl Stream<Item = Result<Bytes, StoreError>> + Send + 'static, StoreError> {
        let result = self
            .inner
            .get(&Path::from(key))
            .await
            .map_err(Self::error(key))?;
        let key = key.to_owned();
        Ok(result
            .into_stream()
            .map_err(move |source| StoreError::Blob {
                key: key.clone(),
                source,
            }))
    }

    /// Copies the blob into a local file, chunk by chunk.
    pub async fn download_to_file(
        &self,
        key: &str,
        destination: &LocalPath,
    ) -> Result<u64, StoreError> {
        let mut stream = Box::pin(self.get_stream(key).await?);
        let mut file = tokio::fs::File::create(destination).await?;
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            size += chunk.len() as u64;
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        Ok(size)
    }

    pub async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match self.inner.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(StoreError::Blob {
                key: key.to_owned(),
                source,
            }),
        }
    }

    /// Deletes every blob under `prefix` (a job's audio and artifacts).
    pub async fn delete_prefix(&self, prefix: &str) -> Result<u64, StoreError> {
        let path = Path::from(prefix);
        let locations: Vec<Path> = self
            .inner
            .list(Some(&path))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await
            .map_err(Self::error(prefix))?;
        let count = locations.len() as u64;
        for location in locations {
            self.delete(location.as_ref()).await?;
        }
        Ok(count)
    }

    /// Cheap check used by `/ready`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let probe = Path::from("health/ready-probe");
        self.inner
            .put(&probe, PutPayload::from_static(b"ok"))
            .await
            .map_err(Self::error("health/ready-probe"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The behaviour every backend shares is tested on the filesystem and S3 in tests/blobs.rs.

    #[test]
    fn unsupported_urls_are_refused() {
        assert!(matches!(
            BlobStore::from_url("ftp://x"),
            Err(StoreError::BlobConfig(_))
        ));
    }
}
