//! A webhook receiver for tests: an HTTP server on its own port that records every request,
//! and answers 500 to the first ones when asked to (to make the sender retry).

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use bytes::Bytes;
use poem::{
    EndpointExt, Request, Route, Server, handler,
    http::StatusCode,
    listener::{Acceptor, Listener, TcpListener},
    web::Data,
};
use tokio_util::sync::CancellationToken;

/// One request as it arrived, and what the receiver answered.
#[derive(Debug, Clone)]
pub struct Received {
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    pub answered: u16,
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    fail_first: AtomicUsize,
}

pub struct WebhookReceiver {
    pub port: u16,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
}

#[handler]
async fn hook(request: &Request, body: Bytes, shared: Data<&Arc<Shared>>) -> StatusCode {
    let failing = shared
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let status = if failing {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    };
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_ascii_lowercase(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    shared.received.lock().expect("lock").push(Received {
        headers,
        body: body.to_vec(),
        answered: status.as_u16(),
    });
    status
}

impl WebhookReceiver {
    /// Listen on `port` (0: any free one); answer 500 to the first `fail_first` requests.
    pub async fn start(port: u16, fail_first: usize) -> Self {
        let acceptor = TcpListener::bind(format!("127.0.0.1:{port}"))
            .into_acceptor()
            .await
            .expect("receiver binds");
        let port = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .expect("socket address")
            .port();
        let shared = Arc::new(Shared {
            fail_first: AtomicUsize::new(fail_first),
            ..Shared::default()
        });
        let shutdown = CancellationToken::new();
        let app = Route::new()
            .at("/hook", poem::post(hook))
            .data(shared.clone());
        let signal = shutdown.clone();
        tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor)
                .run_with_graceful_shutdown(app, signal.cancelled_owned(), None)
                .await;
        });
        Self {
            port,
            shared,
            shutdown,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().expect("lock").clone()
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}
