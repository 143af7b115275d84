//! Building and running the ingest service: connect, bind, serve, relay.

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context;
use imagepipe_shared::metrics::{SharedRegistry, serve_metrics};
use imagepipe_shared::{
    amqp::{Publisher, QueueProbe},
    db,
    storage::Storage,
};
use poem::{
    EndpointExt, Route, Server,
    endpoint::make_sync,
    listener::{Acceptor, Listener, TcpAcceptor, TcpListener},
    web::Html,
};
use prometheus_client::registry::Registry;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::{
    allow::AllowedMethods, api, auth::ApiKeys, backlog::Backlog, chains::ChainSettings,
    config::IngestConfig, error::Problem, metrics::IngestMetrics, outbox, rate_limit::RateLimit,
    state::AppState, upload_memory::UploadMemory,
};

/// How long requests in flight at shutdown may take to finish before their connections are
/// closed.
pub const REQUEST_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// A bound, connected ingest, ready to serve.
pub struct Application {
    acceptor: TcpAcceptor,
    address: SocketAddr,
    state: AppState,
    /// The outbox relay's own pool, for work that is done again (see [`outbox`]).
    relay_db: sea_orm::DatabaseConnection,
    registry: SharedRegistry,
}

impl Application {
    /// Connect to the database and the object store, waiting for them to come up, and bind
    /// the listener; `None` if `shutdown` fires while waiting. The broker is not needed to
    /// start: the outbox holds jobs until it is up.
    pub async fn build(
        config: IngestConfig,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Option<Self>> {
        // Settings that could only fail tasks later stop the service now.
        let chains = ChainSettings::from_config(&config).context("chain settings")?;
        let Some(db) = db::connect_with_retry(&config.database, shutdown)
            .await
            .context("cannot connect to the database")?
        else {
            return Ok(None);
        };
        let Some(relay_db) = db::connect_pool_with_retry(
            &config.database,
            outbox::CONNECTIONS,
            db::Work::Repeatable,
            shutdown,
        )
        .await
        .context("cannot connect to the database")?
        else {
            return Ok(None);
        };
        let Some(storage) = Storage::connect_with_retry(&config.storage, shutdown)
            .await
            .context("cannot use the object store")?
        else {
            return Ok(None);
        };
        let topology = config.amqp.topology();
        let publisher = Publisher::new(config.amqp.amqp_url.clone(), "imagepipe-ingest", topology);

        let acceptor = TcpListener::bind(config.bind.clone())
            .into_acceptor()
            .await
            .with_context(|| format!("cannot listen on {}", config.bind))?;
        let address = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .context("listener has no socket address")?;
        let backlog = Arc::new(Backlog::new(config.max_backlog));
        let mut registry = Registry::default();
        let metrics = IngestMetrics::register(&mut registry);
        let api_keys = Arc::new(ApiKeys::new(&config.api_keys));
        let rate_limit =
            RateLimit::from_config(&config, api_keys.clone()).context("rate limit settings")?;
        let state = AppState {
            metrics,
            api_keys,
            rate_limit,
            callbacks: Arc::new(config.webhooks.policy()),
            backlog,
            upload_memory: Arc::new(UploadMemory::new(config.upload_memory_bytes)),
            chains: Arc::new(chains),
            config: Arc::new(config),
            db,
            storage,
            publisher: Arc::new(publisher),
            relay_wakeup: Arc::new(Notify::new()),
            finishing: crate::finishing::Finishing::default(),
        };
        Ok(Some(Self {
            acceptor,
            address,
            state,
            relay_db,
            registry: Arc::new(registry),
        }))
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Callback hosts looked up by `resolver` instead of the system's (tests give names the
    /// addresses they need; the machine's hosts file is never edited).
    pub fn with_callback_resolver(
        mut self,
        resolver: Arc<dyn imagepipe_shared::webhooks::Resolver>,
    ) -> Self {
        let policy = (*self.state.callbacks).clone().with_resolver(resolver);
        self.state.callbacks = Arc::new(policy);
        self
    }

    /// Serve until `shutdown` fires, then finish in-flight requests (up to [`REQUEST_GRACE`]),
    /// and the uploads already being stored however long their requests lasted, and stop.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        // The relay goes on publishing the jobs of uploads accepted during the grace, and
        // stops only once the last of them is committed.
        let relay_stop = CancellationToken::new();
        let relay = tokio::spawn(outbox::run(
            self.relay_db,
            self.state.publisher.clone(),
            self.state.relay_wakeup.clone(),
            self.state.config.outbox_poll(),
            relay_stop.clone(),
        ));
        let gauge = tokio::spawn(crate::backlog::measure(
            self.state.backlog.clone(),
            self.state.metrics.clone(),
            self.state.db.clone(),
            QueueProbe::new(
                self.state.config.amqp.amqp_url.clone(),
                "imagepipe-ingest-backlog",
                self.state.config.amqp.topology(),
            ),
            std::time::Duration::from_millis(500),
            shutdown.clone(),
        ));
        let forget = tokio::spawn(self.state.rate_limit.clone().forget_idle(shutdown.clone()));
        tracing::info!(address = %self.address, "ingest listening");
        let finishing = self.state.finishing.clone();
        let routes = routes(self.state, self.registry);
        let signal = shutdown.clone();
        Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(
                routes,
                async move { signal.cancelled().await },
                Some(REQUEST_GRACE),
            )
            .await
            .context("HTTP server failed")?;
        shutdown.cancel();
        finishing.all_done().await;
        relay_stop.cancel();
        let _ = relay.await;
        let _ = gauge.await;
        let _ = forget.await;
        tracing::info!("ingest stopped");
        Ok(())
    }
}

/// Every route ingest serves.
pub fn routes(state: AppState, registry: SharedRegistry) -> impl poem::Endpoint {
    let metrics = state.metrics.clone();
    let service = api::service(state.clone());
    let spec = service.spec();
    let document = api::served_document(
        &spec,
        api::Served {
            keys_required: state.api_keys.enabled(),
            rate_limited: state.rate_limit.enabled(),
        },
    );
    // Swagger UI shows the document it embeds: this ingest's, not poem-openapi's.
    let swagger_page = service.swagger_ui_html().replace(&spec, &document);
    let allowed = AllowedMethods::new(&document);
    let routes = Route::new()
        .at("/", poem::get(crate::web::index))
        .at("/static/app.js", poem::get(crate::web::script))
        .at("/static/app.css", poem::get(crate::web::stylesheet))
        // The API alone is limited: health, metrics and the docs answer whatever a client did.
        .nest_no_strip("/api/v1", service.with(state.rate_limit.clone()))
        // Nested, so that `/docs` and `/docs/` both answer, as they did.
        .nest(
            "/docs",
            Route::new().at(
                "/",
                poem::get(make_sync(move |_| Html(swagger_page.clone()))),
            ),
        )
        .at(
            "/openapi.json",
            poem::get(make_sync(move |_| {
                poem::Response::builder()
                    .content_type("application/json; charset=utf-8")
                    .body(document.clone())
            })),
        )
        .at("/health/live", poem::get(api::health::live))
        .at("/health/ready", poem::get(api::health::ready))
        .at("/metrics", poem::get(serve_metrics))
        .data(state.api_keys.clone())
        .data(state)
        .data(registry)
        // Errors outside the API's own responses (unknown route, wrong method) still get a
        // problem document.
        .catch_all_error(|err: poem::Error| async move { Problem::outside_the_api(&err) });
    // Outermost, so it sees every answer, errors included, as the client does.
    allowed.around(routes).with(metrics)
}
