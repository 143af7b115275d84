//! `Allow` on every `405 Method Not Allowed` (RFC 9110 §15.5.6 says it must be there): the
//! methods of each route, read from the served OpenAPI document for the API and given here
//! for the routes outside it, so a route added to the API needs nothing here.

use poem::{Endpoint, IntoResponse, Request, Response, http::StatusCode};
use serde_json::Value;

/// Routes outside the OpenAPI document, each answering GET only.
const PAGES: &[&str] = &[
    "/",
    "/static/app.js",
    "/static/app.css",
    "/docs",
    "/openapi.json",
    "/health/live",
    "/health/ready",
    "/metrics",
];

/// Each route's path, split in segments (`{name}` matches any one), and its `Allow` value.
#[derive(Debug, Clone)]
pub(crate) struct AllowedMethods {
    routes: Vec<(Vec<String>, String)>,
}

impl AllowedMethods {
    /// The routes of `document` (the served OpenAPI document) and the pages.
    pub(crate) fn new(document: &str) -> Self {
        let document: Value = serde_json::from_str(document).unwrap_or_default();
        let mut routes: Vec<(Vec<String>, String)> = PAGES
            .iter()
            .map(|path| (segments(path), allow(&["GET"])))
            .collect();
        if let Some(paths) = document["paths"].as_object() {
            for (path, methods) in paths {
                let methods: Vec<String> = methods
                    .as_object()
                    .map(|m| m.keys().map(|k| k.to_uppercase()).collect())
                    .unwrap_or_default();
                let methods: Vec<&str> = methods.iter().map(String::as_str).collect();
                routes.push((segments(path), allow(&methods)));
            }
        }
        Self { routes }
    }

    /// The `Allow` value for `path`, if a route has it.
    pub(crate) fn of(&self, path: &str) -> Option<&str> {
        let asked = segments(path);
        self.routes
            .iter()
            .find(|(route, _)| {
                route.len() == asked.len()
                    && route
                        .iter()
                        .zip(&asked)
                        .all(|(r, a)| r.starts_with('{') || r == a)
            })
            .map(|(_, allow)| allow.as_str())
    }

    /// Wraps `endpoint` so that its 405s carry `Allow`.
    pub(crate) fn around<E: Endpoint + 'static>(
        self,
        endpoint: E,
    ) -> impl Endpoint<Output = Response> {
        poem::EndpointExt::around(endpoint, move |inner, request: Request| {
            let allowed = self.of(request.uri().path()).map(str::to_owned);
            async move {
                let mut response = match inner.call(request).await {
                    Ok(output) => output.into_response(),
                    Err(err) => err.into_response(),
                };
                if response.status() == StatusCode::METHOD_NOT_ALLOWED
                    && let Some(allowed) = allowed
                    && let Ok(value) = allowed.parse()
                {
                    response
                        .headers_mut()
                        .insert(poem::http::header::ALLOW, value);
                }
                Ok(response)
            }
        })
    }
}

fn segments(path: &str) -> Vec<String> {
    path.trim_end_matches('/')
        .split('/')
        .map(str::to_owned)
        .collect()
}

/// poem answers HEAD wherever it answers GET.
fn allow(methods: &[&str]) -> String {
    let mut all: Vec<&str> = methods.to_vec();
    if all.contains(&"GET") {
        all.push("HEAD");
    }
    all.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_is_matched_with_its_parameters() {
        let document = r#"{"paths": {
            "/api/v1/analyze": {"post": {}},
            "/api/v1/tasks/{task_id}": {"get": {}},
            "/api/v1/tasks/{task_id}/cancel": {"post": {}}
        }}"#;
        let allowed = AllowedMethods::new(document);
        assert_eq!(allowed.of("/api/v1/analyze"), Some("POST"));
        assert_eq!(allowed.of("/api/v1/tasks/abc"), Some("GET, HEAD"));
        assert_eq!(allowed.of("/api/v1/tasks/abc/cancel"), Some("POST"));
        assert_eq!(allowed.of("/health/ready"), Some("GET, HEAD"));
        assert_eq!(allowed.of("/"), Some("GET, HEAD"));
        assert_eq!(allowed.of("/api/v1/nothing"), None);
    }
}
