//! The web page at `/`: upload images and watch them being processed. Its three files are
//! compiled into the binary, so ingest serves them with no build step and no internet.

use poem::{
    Response, handler,
    http::{StatusCode, header},
};

const INDEX_HTML: &str = include_str!("../static/index.html");
const APP_JS: &str = include_str!("../static/app.js");
const APP_CSS: &str = include_str!("../static/app.css");

fn asset(body: &'static str, content_type: &str) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        // Assets change only with the binary; revalidate so an upgrade shows at once.
        .header(header::CACHE_CONTROL, "no-cache")
        .header("X-Content-Type-Options", "nosniff")
        .body(body)
}

#[handler]
pub(crate) fn index() -> Response {
    asset(INDEX_HTML, "text/html; charset=utf-8")
}

#[handler]
pub(crate) fn script() -> Response {
    asset(APP_JS, "text/javascript; charset=utf-8")
}

#[handler]
pub(crate) fn stylesheet() -> Response {
    asset(APP_CSS, "text/css; charset=utf-8")
}
