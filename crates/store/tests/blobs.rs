//! One blob-store suite run on the local filesystem (embedded) and on S3 (a private moto
//! server, see `dalston-testkit`): round trips, prefix deletes, streamed multipart uploads and
//! aborted uploads that leave nothing behind.
#![expect(clippy::expect_used, reason = "tests panic with a message on failure")]

use bytes::Bytes;
use dalston_core::JobId;
use dalston_store::{BlobKey, BlobStore, S3Settings};
use dalston_testkit::TestS3;

#[tokio::test]
async fn the_filesystem_store_passes_the_blob_suite() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = BlobStore::from_url(&format!("file://{}", dir.path().display()))?;
    blob_suite(&store).await
}

#[tokio::test]
async fn the_s3_store_passes_the_blob_suite() -> anyhow::Result<()> {
    let Some(server) = TestS3::start()? else {
        return Ok(());
    };
    eprintln!("moto started in {:?}", server.startup);
    server.create_bucket("dalston-test")?;
    let store = BlobStore::s3(&S3Settings {
        url: "s3://dalston-test/deployment-a".into(),
        endpoint: Some(server.endpoint()),
        region: Some("eu-west-1".into()),
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
        virtual_hosted_style: false,
    })?;
    blob_suite(&store).await
}

async fn blob_suite(store: &BlobStore) -> anyhow::Result<()> {
    stream_round_trip_and_prefix_delete(store).await?;
    a_failed_stream_leaves_no_blob(store).await?;
    a_large_upload_is_stored_in_parts_and_read_back_whole(store).await?;
    a_file_of_several_parts_uploads_whole(store).await
}

async fn stream_round_trip_and_prefix_delete(store: &BlobStore) -> anyhow::Result<()> {
    let job = JobId::generate();
    let key = BlobKey::original_audio(&job);
    let chunks = futures::stream::iter(vec![
        Ok(Bytes::from_static(b"abc")),
        Ok(Bytes::from_static(b"def")),
    ]);
    assert_eq!(store.put_stream(&key, chunks).await.ok(), Some(6));
    assert_eq!(store.get_bytes(&key).await?.as_ref(), b"abcdef");
    let artifact = BlobKey::transcript(&job);
    store
        .put_bytes(&artifact, Bytes::from_static(b"{}"))
        .await?;
    assert_eq!(store.delete_prefix(&BlobKey::job_prefix(&job)).await?, 2);
    assert!(
        store
            .get_bytes(&key)
            .await
            .expect_err("gone")
            .is_not_found()
    );
    assert!(
        store
            .get_bytes(&artifact)
            .await
            .expect_err("gone")
            .is_not_found()
    );
    store.delete(&key).await?;
    store.ping().await?;
    Ok(())
}

async fn a_failed_stream_leaves_no_blob(store: &BlobStore) -> anyhow::Result<()> {
    let key = BlobKey::original_audio(&JobId::generate());
    let chunks = futures::stream::iter(vec![
        Ok(Bytes::from(vec![7u8; 6 * 1024 * 1024])),
        Err("client went away".into()),
    ]);
    assert!(matches!(store.put_stream(&key, chunks).await, Err(Ok(_))));
    assert!(
        store
            .get_bytes(&key)
            .await
            .expect_err("no blob")
            .is_not_found()
    );
    Ok(())
}

/// 13 MiB in 64 KiB chunks: more than two 5 MiB parts of a multipart upload.
async fn a_large_upload_is_stored_in_parts_and_read_back_whole(
    store: &BlobStore,
) -> anyhow::Result<()> {
    let key = BlobKey::original_audio(&JobId::generate());
    let chunk_len = 64 * 1024;
    let chunks: Vec<Bytes> = (0..208u32)
        .map(|n| Bytes::from(vec![u8::try_from(n % 251).unwrap_or(0); chunk_len]))
        .collect();
    let expected: Vec<u8> = chunks.iter().flat_map(|chunk| chunk.to_vec()).collect();
    let stream = futures::stream::iter(chunks.into_iter().map(Ok));
    let size = store.put_stream(&key, stream).await.ok();
    assert_eq!(size, Some(expected.len() as u64));
    let dir = tempfile::tempdir()?;
    let local = dir.path().join("audio");
    assert_eq!(
        store.download_to_file(&key, &local).await?,
        expected.len() as u64
    );
    assert!(
        std::fs::read(&local)? == expected,
        "the parts were joined in order"
    );
    Ok(())
}

/// `put_file` (prepared audio, artifacts written to disk): 2.5 MiB read in parts, and an empty
/// file.
async fn a_file_of_several_parts_uploads_whole(store: &BlobStore) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let source = dir.path().join("source.bin");
    let contents: Vec<u8> = (0..(5u32 << 19))
        .map(|index| u8::try_from(index % 251).unwrap_or(0))
        .collect();
    std::fs::write(&source, &contents)?;
    let key = BlobKey::original_audio(&JobId::generate());
    assert_eq!(store.put_file(&key, &source).await?, contents.len() as u64);
    assert!(
        store.get_bytes(&key).await?.as_ref() == contents.as_slice(),
        "the file was stored whole"
    );
    let empty = dir.path().join("empty.bin");
    std::fs::write(&empty, b"")?;
    assert_eq!(store.put_file(&key, &empty).await?, 0);
    Ok(())
}
