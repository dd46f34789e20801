//! Where `scripts/fetch-models` puts the real models and test speech, for tests that run on
//! them. Missing files fail the test with the command that fetches them; nothing is skipped.

use std::path::PathBuf;

/// What jfk.wav says.
pub const JFK_TEXT: &str = "And so, my fellow Americans, ask not what your country can do for you, ask what you can do for your country.";

fn cache_dir(variable: &str, leaf: &str) -> PathBuf {
    std::env::var_os(variable).map_or_else(
        || {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/dalston")
                .join(leaf)
        },
        PathBuf::from,
    )
}

/// The models directory (`$DALSTON_MODELS_DIR`, default `~/.cache/dalston/models`).
pub fn models_dir() -> PathBuf {
    cache_dir("DALSTON_MODELS_DIR", "models")
}

/// A model's directory under [`models_dir`].
///
/// # Panics
/// When it is missing.
pub fn model_dir(name: &str) -> PathBuf {
    let dir = models_dir().join(name);
    assert!(
        dir.is_dir(),
        "model {} is missing: run scripts/fetch-models (or set DALSTON_MODELS_DIR)",
        dir.display()
    );
    dir
}

/// A test recording (`$DALSTON_TEST_DATA_DIR`, default `~/.cache/dalston/test-data`).
///
/// # Panics
/// When it is missing.
pub fn test_data(name: &str) -> PathBuf {
    let path = cache_dir("DALSTON_TEST_DATA_DIR", "test-data").join(name);
    assert!(
        path.exists(),
        "test recording {} is missing: run scripts/fetch-models (or set DALSTON_TEST_DATA_DIR)",
        path.display()
    );
    path
}
