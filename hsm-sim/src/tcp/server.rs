//! The HSM side: accepts connections, authenticates each, and answers its requests in order
//! with the [`Engine`]. One task per connection; a connection that misbehaves (bad frame,
//! failed MAC, replay, idle too long) is closed alone and logged, the others carry on.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::timeout;
use zeroize::Zeroizing;

use super::error::ProtocolError;
use super::handshake;
use super::psk::Psk;
use super::reply::{to_json, Reply};
use super::session::{Session, MAX_PAYLOAD_BYTES};
use super::wire::{read_frame, write_frame};
use crate::engine::Engine;
use crate::error::HsmError;
use crate::verbs::Request;

/// Default for [`ServerLimits::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 64;
/// Default for [`ServerLimits::handshake_timeout_ms`].
pub const DEFAULT_HANDSHAKE_TIMEOUT_MS: u64 = 5_000;
/// Default for [`ServerLimits::idle_timeout_ms`].
pub const DEFAULT_IDLE_TIMEOUT_MS: u64 = 300_000;

/// Bounds on what one client can hold on to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Connections served at once; more are closed on accept.
    pub max_connections: usize,
    /// Time a new connection has to complete the handshake, so unauthenticated peers cannot
    /// hold connection slots.
    pub handshake_timeout_ms: u64,
    /// Time an authenticated connection may wait between (or take over) a request frame.
    pub idle_timeout_ms: u64,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            handshake_timeout_ms: DEFAULT_HANDSHAKE_TIMEOUT_MS,
            idle_timeout_ms: DEFAULT_IDLE_TIMEOUT_MS,
        }
    }
}

/// Serves `listener` until this future is dropped; dropping it also closes every open
/// connection (they live in a [`JoinSet`] owned by it), which is how the binary shuts down.
pub async fn serve(listener: TcpListener, engine: Arc<Engine>, psk: Psk, limits: ServerLimits) {
    let psk = Arc::new(psk);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Some((stream, peer)) = accepted_or_log(accepted).await else { continue };
                let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
                    let limit = limits.max_connections;
                    tracing::warn!(%peer, limit, "refused HSM connection: too many connections");
                    continue;
                };
                let (engine, psk) = (Arc::clone(&engine), Arc::clone(&psk));
                connections.spawn(async move {
                    connection(stream, peer, &engine, &psk, limits).await;
                    drop(slot);
                });
            }
            // Reap finished connection tasks so the set does not grow without bound.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// The accepted stream, or `None` after logging the error. Errors such as running out of
/// file descriptors are retried after a pause rather than ending the server.
async fn accepted_or_log(
    accepted: std::io::Result<(TcpStream, SocketAddr)>,
) -> Option<(TcpStream, SocketAddr)> {
    match accepted {
        Ok(pair) => Some(pair),
        Err(e) => {
            tracing::warn!(error = %e, "accepting an HSM connection failed");
            tokio::time::sleep(Duration::from_millis(100)).await;
            None
        }
    }
}

/// One connection, from handshake to close.
async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    engine: &Engine,
    psk: &Psk,
    limits: ServerLimits,
) {
    // Requests and replies are small and strictly alternate: do not wait to coalesce.
    let _ = stream.set_nodelay(true);
    let handshake_time = Duration::from_millis(limits.handshake_timeout_ms);
    let session = match timeout(handshake_time, handshake::server(&mut stream, psk)).await {
        Ok(Ok(session)) => session,
        Ok(Err(e)) => {
            return tracing::warn!(%peer, reason = %e, "refused HSM connection: handshake failed")
        }
        Err(_) => return tracing::warn!(%peer, "refused HSM connection: handshake timed out"),
    };
    let id = session.id_hex();
    tracing::debug!(%peer, session = %id, "HSM connection authenticated");
    match serve_requests(&mut stream, session, engine, limits).await {
        ProtocolError::Closed => {
            tracing::debug!(%peer, session = %id, "HSM connection closed by client")
        }
        ProtocolError::Timeout => {
            tracing::debug!(%peer, session = %id, "HSM connection idle; closed")
        }
        e => tracing::warn!(%peer, session = %id, reason = %e, "closed HSM connection"),
    }
}

/// Answers requests in order until the connection fails; returns why.
async fn serve_requests(
    stream: &mut TcpStream,
    mut session: Session,
    engine: &Engine,
    limits: ServerLimits,
) -> ProtocolError {
    let idle = Duration::from_millis(limits.idle_timeout_ms);
    loop {
        let body = match timeout(idle, read_frame(stream)).await {
            Ok(Ok(body)) => body,
            Ok(Err(e)) => return e,
            Err(_) => return ProtocolError::Timeout,
        };
        let reply = match session.open(&body) {
            Ok(payload) => answer(engine, &payload),
            Err(e) => return e,
        };
        let sent = match session.seal(&reply) {
            Ok(frame) => write_frame(stream, &frame).await,
            Err(e) => Err(e),
        };
        if let Err(e) = sent {
            return e;
        }
    }
}

/// The JSON reply to one authenticated request payload.
fn answer(engine: &Engine, payload: &[u8]) -> Zeroizing<Vec<u8>> {
    let result = match serde_json::from_slice::<Request>(payload) {
        Ok(request) => engine.execute(request),
        // serde's message could quote a field's value (a PAN, say): keep it generic.
        Err(_) => Err(HsmError::invalid("request is not a known verb or is malformed")),
    };
    match to_json(&Reply::from(result)) {
        Ok(json) if json.len() <= MAX_PAYLOAD_BYTES => json,
        Ok(_) => fallback("the reply exceeds the HSM frame size limit"),
        Err(_) => fallback("the reply could not be encoded"),
    }
}

/// An `unavailable` error reply; encoding a plain string cannot fail, but if it did the
/// empty payload would only make the client drop this connection.
fn fallback(why: &str) -> Zeroizing<Vec<u8>> {
    to_json(&Reply::from(Err(HsmError::Unavailable(why.into())))).unwrap_or_default()
}
