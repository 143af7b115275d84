//! Prometheus metrics: one registry per service, served as `/metrics` in the OpenMetrics text
//! format (ingest on its HTTP port, the workers beside their health endpoints). Each service
//! registers its own metrics; what more than one needs (queue depths, the endpoint) is here.

use std::{sync::Arc, time::Duration};

use poem::{IntoResponse, Response, handler, web::Data};
use prometheus_client::{
    encoding::{EncodeLabelSet, text::encode},
    metrics::{
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};
use tokio_util::sync::CancellationToken;

use crate::amqp::QueueProbe;

/// A service's registry, shared by everything that records into it.
pub type SharedRegistry = Arc<Registry>;

/// `GET /metrics`.
// poem's `#[handler]` turns the function into a unit struct and moves the body into a method
// of a private impl, which `unreachable_pub` flags although the handler is public API.
#[allow(unreachable_pub)]
#[handler]
pub fn serve_metrics(registry: Data<&SharedRegistry>) -> Response {
    let mut body = String::new();
    if let Err(err) = encode(&mut body, registry.0) {
        tracing::warn!(%err, "cannot encode metrics");
    }
    body.with_content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .into_response()
}

/// Buckets for durations from 1 ms to about a minute.
pub fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    pub queue: String,
}

/// `imagepipe_queue_depth{queue}`: messages ready in a queue, as this service last saw them.
pub fn queue_depth_family(registry: &mut Registry) -> Family<QueueLabels, Gauge> {
    let family = Family::<QueueLabels, Gauge>::default();
    registry.register(
        "imagepipe_queue_depth",
        "Messages ready in a RabbitMQ queue, as this service last measured them",
        family.clone(),
    );
    family
}

/// Measure the depth of `queues` every `interval` until shutdown.
pub async fn watch_queue_depths(
    mut probe: QueueProbe,
    queues: Vec<String>,
    depths: Family<QueueLabels, Gauge>,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut ticks = crate::periodic::Ticks::every(interval, &shutdown);
    while ticks.next().await {
        let pass = async {
            for queue in &queues {
                if let Some(depth) = probe.depth(queue).await {
                    depths
                        .get_or_create(&QueueLabels {
                            queue: queue.clone(),
                        })
                        .set(i64::try_from(depth).unwrap_or(i64::MAX));
                }
            }
        };
        // A broker gone silent makes each read wait out its timeout: a shutdown meanwhile
        // must not wait for the whole pass.
        tokio::select! {
            () = pass => {}
            () = shutdown.cancelled() => return,
        }
    }
}
