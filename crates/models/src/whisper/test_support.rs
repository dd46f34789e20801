//! Locating the real model files for unit tests that read them.

use std::path::PathBuf;

/// `$DALSTON_MODELS_DIR/<name>` or `~/.cache/dalston/models/<name>`; panics with the fix when
/// the directory is missing, so a machine without models fails instead of skipping.
pub(crate) fn model_dir(name: &str) -> PathBuf {
    let root = std::env::var_os("DALSTON_MODELS_DIR").map_or_else(
        || {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache")
                .join("dalston")
                .join("models")
        },
        PathBuf::from,
    );
    let dir = root.join(name);
    assert!(
        dir.join("model.bin").is_file(),
        "model {name} not found at {}: run scripts/fetch-models (or set DALSTON_MODELS_DIR)",
        dir.display()
    );
    dir
}
