//! Vendored static files, compiled into the binary: htmx (from the npm registry, version
//! and SHA-256 in docs/CONSOLE.md) and the console's own stylesheet. The version is in the
//! file name, so they can be cached for a year.

use axum::http::header;
use axum::response::IntoResponse;

pub const HTMX_FILE: &str = "htmx-2.0.11.min.js";
pub const CSS_FILE: &str = "console-3.css";

const HTMX: &str = include_str!("../assets/htmx-2.0.11.min.js");
const CSS: &str = include_str!("../assets/console-3.css");
const CACHE_FOR_A_YEAR: &str = "public, max-age=31536000, immutable";

pub async fn htmx() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE_FOR_A_YEAR),
        ],
        HTMX,
    )
}

pub async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE_FOR_A_YEAR),
        ],
        CSS,
    )
}
