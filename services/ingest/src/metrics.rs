//! What ingest counts: HTTP requests and latency by route and status, uploads accepted and
//! rejected (by reason), and the backlog it sheds load on.

use std::time::Instant;

use imagepipe_shared::metrics::{QueueLabels, duration_histogram, queue_depth_family};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use poem_openapi::OperationId;
use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct HttpLabels {
    /// The OpenAPI operation id, or a fixed path: never the raw path, whose ids would make
    /// one series per task.
    pub route: String,
    pub method: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RejectLabels {
    /// The problem `code`, e.g. `unsupported_media_type`.
    pub reason: String,
}

#[derive(Clone)]
pub struct IngestMetrics {
    requests: Family<HttpLabels, Counter>,
    duration: Family<HttpLabels, Histogram>,
    pub uploads_accepted: Counter,
    pub uploads_rejected: Family<RejectLabels, Counter>,
    pub queue_depth: Family<QueueLabels, Gauge>,
    pub outbox_depth: Gauge,
}

impl IngestMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self {
            requests: Family::default(),
            duration: Family::new_with_constructor(duration_histogram),
            uploads_accepted: Counter::default(),
            uploads_rejected: Family::default(),
            queue_depth: queue_depth_family(registry),
            outbox_depth: Gauge::default(),
        };
        registry.register(
            "imagepipe_http_requests",
            "HTTP requests answered, by route, method and status",
            metrics.requests.clone(),
        );
        registry.register(
            "imagepipe_http_request_duration_seconds",
            "Time to answer an HTTP request (for event streams: to start answering)",
            metrics.duration.clone(),
        );
        registry.register(
            "imagepipe_uploads_accepted",
            "Uploads accepted (202)",
            metrics.uploads_accepted.clone(),
        );
        registry.register(
            "imagepipe_uploads_rejected",
            "Uploads refused, by reason (the problem code)",
            metrics.uploads_rejected.clone(),
        );
        registry.register(
            "imagepipe_outbox_depth",
            "Jobs committed but not yet confirmed by the broker",
            metrics.outbox_depth.clone(),
        );
        metrics
    }

    pub fn rejected(&self, reason: &str) {
        self.uploads_rejected
            .get_or_create(&RejectLabels {
                reason: reason.to_owned(),
            })
            .inc();
    }
}

/// The label of a request that is not an API operation.
fn fixed_route(path: &str) -> &'static str {
    match path {
        "/" => "/",
        p if p.starts_with("/static/") => "/static",
        p if p.starts_with("/docs") => "/docs",
        "/openapi.json" => "/openapi.json",
        "/health/live" => "/health/live",
        "/health/ready" => "/health/ready",
        "/metrics" => "/metrics",
        _ => "other",
    }
}

impl<E: Endpoint> Middleware<E> for IngestMetrics {
    type Output = MeteredEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        MeteredEndpoint {
            inner,
            metrics: self.clone(),
        }
    }
}

pub struct MeteredEndpoint<E> {
    inner: E,
    metrics: IngestMetrics,
}

impl<E: Endpoint> Endpoint for MeteredEndpoint<E> {
    type Output = Response;

    async fn call(&self, request: Request) -> poem::Result<Response> {
        let started = Instant::now();
        let method = request.method().to_string();
        let fixed = fixed_route(request.uri().path());
        let response = match self.inner.call(request).await {
            Ok(output) => output.into_response(),
            Err(err) => err.into_response(),
        };
        let route = response
            .data::<OperationId>()
            .map_or_else(|| fixed.to_owned(), |id| id.0.to_owned());
        let labels = HttpLabels {
            route,
            method,
            status: response.status().as_u16(),
        };
        self.metrics.requests.get_or_create(&labels).inc();
        self.metrics
            .duration
            .get_or_create(&labels)
            .observe(started.elapsed().as_secs_f64());
        Ok(response)
    }
}
