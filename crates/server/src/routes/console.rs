//! The web console: the files `build.rs` built from `web/`, embedded in the binary and served
//! under `/console/`. They are public like any static site; everything they show comes from the
//! API, with the key the user signs in with. Nothing is fetched from elsewhere, so the console
//! works offline.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use include_dir::{Dir, include_dir};

static CONSOLE: Dir<'static> = include_dir!("$OUT_DIR/console");

/// Where the console lives; `/` and `/console` send browsers here.
pub const CONSOLE_PATH: &str = "/console/";

/// The page may only talk to this server and play the audio it fetched (blob URLs).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

pub async fn redirect() -> Redirect {
    Redirect::temporary(CONSOLE_PATH)
}

pub async fn index() -> Response {
    serve("index.html")
}

pub async fn file(Path(path): Path<String>) -> Response {
    serve(&path)
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, extension)| extension) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn serve(path: &str) -> Response {
    let Some(file) = CONSOLE.get_file(path) else {
        return (StatusCode::NOT_FOUND, "not a file of the console").into_response();
    };
    // Vite names assets by their content hash: they never change under the same name.
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = (
        [
            (header::CONTENT_TYPE, content_type(path)),
            (header::CACHE_CONTROL, cache),
        ],
        file.contents(),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_is_embedded() {
        let index = CONSOLE.get_file("index.html").map(|file| file.contents());
        assert!(
            index.is_some_and(|html| String::from_utf8_lossy(html).contains("/console/assets/")),
            "index.html is missing or does not load its assets from /console/"
        );
    }

    #[test]
    fn unknown_and_escaping_paths_are_not_found() {
        for path in ["nope.js", "../Cargo.toml", "/etc/passwd"] {
            assert_eq!(serve(path).status(), StatusCode::NOT_FOUND, "{path}");
        }
        assert_eq!(
            content_type("assets/index-abc.js"),
            "text/javascript; charset=utf-8"
        );
    }
}
