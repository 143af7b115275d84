//! A TCP proxy in front of PostgreSQL that writes down what a client asks of the server, so a
//! test can count the statements and round trips a piece of work costs the database.
//!
//! It reads the client's side of the wire protocol (version 3, unencrypted: the client must
//! connect with `sslmode=disable`) and forwards every byte unchanged. What it records is one
//! [`Exchange`] per request the server answers with ReadyForQuery: a simple `Query`, or the
//! extended-protocol messages up to their `Sync` (a prepared statement's `Bind`/`Execute`,
//! a `Parse` when a connection prepares one, or a `Sync` alone: a connection pool's ping).
//! Each exchange is one round trip the client waits for and one wake-up of the server.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream, tcp::OwnedReadHalf, tcp::OwnedWriteHalf},
};

/// One request the server answered with ReadyForQuery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange {
    /// Which client connection (numbered from 0 in the order they connected).
    pub connection: u64,
    /// The SQL of each statement it executed: a simple query's text, or the prepared
    /// statement of each `Execute`.
    pub statements: Vec<String>,
    /// It prepared a statement (`Parse`), which a connection does once per statement.
    pub prepared: bool,
}

impl Exchange {
    /// Nothing executed or prepared: a `Sync` on its own, how sqlx pings a connection.
    pub fn is_ping(&self) -> bool {
        self.statements.is_empty() && !self.prepared
    }

    /// Whether any statement of it contains `text`.
    pub fn runs(&self, text: &str) -> bool {
        self.statements.iter().any(|sql| sql.contains(text))
    }
}

pub struct PgWireLog {
    address: SocketAddr,
    exchanges: Arc<Mutex<Vec<Exchange>>>,
    accept_loop: tokio::task::JoinHandle<()>,
}

impl PgWireLog {
    /// Listen on a free local port and forward to `target` (`host:port`).
    pub async fn start(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the wire log");
        let address = listener.local_addr().expect("wire log address");
        let exchanges = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicU64::new(0));
        let target = target.to_owned();
        let accept_loop = tokio::spawn({
            let exchanges = exchanges.clone();
            async move {
                while let Ok((client, _)) = listener.accept().await {
                    let connection = connections.fetch_add(1, Ordering::SeqCst);
                    tokio::spawn(forward(
                        client,
                        target.clone(),
                        Recorder {
                            connection,
                            exchanges: exchanges.clone(),
                            ..Recorder::default()
                        },
                    ));
                }
            }
        });
        Self {
            address,
            exchanges,
            accept_loop,
        }
    }

    /// `host:port` to give a client instead of the server's.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// How many exchanges have been recorded: a mark to read from with [`since`](Self::since).
    pub fn mark(&self) -> usize {
        self.exchanges.lock().expect("the log").len()
    }

    /// The exchanges recorded after `mark`, in the order they ended.
    pub fn since(&self, mark: usize) -> Vec<Exchange> {
        self.exchanges.lock().expect("the log")[mark..].to_vec()
    }
}

impl Drop for PgWireLog {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

/// Carry one connection: the server's answers straight back, the client's messages through
/// the recorder.
async fn forward(client: TcpStream, target: String, recorder: Recorder) {
    let Ok(server) = TcpStream::connect(&target).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut from_client, to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let answers = tokio::spawn(async move {
        let mut to_client = to_client;
        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
    });
    let _ = requests(&mut from_client, &mut to_server, recorder).await;
    answers.abort();
}

/// Forward the client's bytes as they come, recording each message once it is whole.
async fn requests(
    from_client: &mut OwnedReadHalf,
    to_server: &mut OwnedWriteHalf,
    mut recorder: Recorder,
) -> std::io::Result<()> {
    let mut pending = Vec::new();
    let mut chunk = vec![0; 64 * 1024];
    loop {
        let n = from_client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        to_server.write_all(&chunk[..n]).await?;
        pending.extend_from_slice(&chunk[..n]);
        let used = recorder.read_messages(&pending);
        pending.drain(..used);
    }
}

/// What one connection's client has said so far.
#[derive(Default)]
struct Recorder {
    connection: u64,
    exchanges: Arc<Mutex<Vec<Exchange>>>,
    /// Past the startup message (which has no type byte); `false` again after an
    /// SSLRequest or GSSENCRequest, which the real startup message follows.
    started: bool,
    /// Prepared statements by name ("" is the unnamed one).
    prepared: HashMap<String, String>,
    /// The statement of the portal last bound (sqlx binds one portal at a time).
    bound: Option<String>,
    current: Vec<String>,
    current_prepared: bool,
}

/// The startup codes that are not the startup message itself.
const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;

impl Recorder {
    /// Record every whole message at the start of `bytes`; how many bytes they took.
    fn read_messages(&mut self, bytes: &[u8]) -> usize {
        let mut at = 0;
        loop {
            let rest = &bytes[at..];
            if !self.started {
                let Some(len) = be_u32(rest, 0) else {
                    return at;
                };
                let len = len as usize;
                if rest.len() < len {
                    return at;
                }
                let code = be_u32(rest, 4).unwrap_or_default();
                // SSL and GSS encryption requests are refused (`sslmode=disable` asks for
                // none), and the startup message follows them.
                self.started = code != SSL_REQUEST && code != GSSENC_REQUEST;
                at += len;
                continue;
            }
            let (Some(&kind), Some(len)) = (rest.first(), be_u32(rest, 1)) else {
                return at;
            };
            let end = 1 + len as usize;
            if rest.len() < end {
                return at;
            }
            self.message(kind, &rest[5..end]);
            at += end;
        }
    }

    fn message(&mut self, kind: u8, body: &[u8]) {
        match kind {
            b'Q' => {
                let sql = c_strings(body).into_iter().next().unwrap_or_default();
                self.end_exchange(Some(sql));
            }
            b'P' => {
                let mut fields = c_strings(body).into_iter();
                let name = fields.next().unwrap_or_default();
                let sql = fields.next().unwrap_or_default();
                self.prepared.insert(name, sql);
                self.current_prepared = true;
            }
            b'B' => {
                let fields = c_strings(body);
                let statement = fields.get(1).cloned().unwrap_or_default();
                self.bound = self.prepared.get(&statement).cloned();
            }
            b'E' => {
                let sql = self.bound.clone().unwrap_or_else(|| "?".to_owned());
                self.current.push(sql);
            }
            b'S' => self.end_exchange(None),
            // Close: a statement ('S') or portal ('P') by name.
            b'C' if body.first() == Some(&b'S') => {
                let name = c_strings(&body[1..]).into_iter().next().unwrap_or_default();
                self.prepared.remove(&name);
            }
            _ => {}
        }
    }

    fn end_exchange(&mut self, simple: Option<String>) {
        let mut statements = std::mem::take(&mut self.current);
        statements.extend(simple);
        let exchange = Exchange {
            connection: self.connection,
            statements,
            prepared: std::mem::take(&mut self.current_prepared),
        };
        self.exchanges.lock().expect("the log").push(exchange);
    }
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let word = bytes.get(at..at + 4)?;
    Some(u32::from_be_bytes([word[0], word[1], word[2], word[3]]))
}

/// The NUL-terminated strings at the start of a message body.
fn c_strings(body: &[u8]) -> Vec<String> {
    body.split(|&b| b == 0)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut bytes = vec![kind];
        bytes.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        bytes.extend_from_slice(body);
        bytes
    }

    #[test]
    fn records_pings_simple_queries_and_prepared_statements_split_anywhere() {
        let mut wire = Vec::new();
        wire.extend_from_slice(&8u32.to_be_bytes());
        wire.extend_from_slice(&SSL_REQUEST.to_be_bytes());
        wire.extend_from_slice(&9u32.to_be_bytes());
        wire.extend_from_slice(&196_608u32.to_be_bytes());
        wire.push(0);
        wire.extend(message(b'S', b""));
        wire.extend(message(b'Q', b"BEGIN\0"));
        wire.extend(message(b'P', b"s1\0INSERT INTO t VALUES ($1)\0\0\0"));
        wire.extend(message(b'D', b"Ss1\0"));
        wire.extend(message(b'S', b""));
        wire.extend(message(b'B', b"\0s1\0\0\0\0\0"));
        wire.extend(message(b'E', b"\0\0\0\0\0"));
        wire.extend(message(b'S', b""));

        let log = Arc::new(Mutex::new(Vec::new()));
        let mut recorder = Recorder {
            exchanges: log.clone(),
            ..Recorder::default()
        };
        // Fed a byte at a time, as a slow network might.
        let mut pending = Vec::new();
        for byte in wire {
            pending.push(byte);
            let used = recorder.read_messages(&pending);
            pending.drain(..used);
        }
        assert!(pending.is_empty());
        let exchanges = log.lock().unwrap().clone();
        let kinds: Vec<(Vec<String>, bool)> = exchanges
            .into_iter()
            .map(|e| (e.statements, e.prepared))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (vec![], false),
                (vec!["BEGIN".to_owned()], false),
                (vec![], true),
                (vec!["INSERT INTO t VALUES ($1)".to_owned()], false),
            ]
        );
    }
}
