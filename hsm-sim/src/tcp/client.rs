//! The client side: a pool of authenticated connections to one HSM, behind
//! [`HsmClient::tcp`](crate::HsmClient::tcp).
//!
//! A call takes an idle connection (or dials a new one while fewer than `pool_size` exist),
//! sends one request and reads its reply. A connection that fails in any way is dropped and
//! the next call dials afresh, so a restarted HSM is picked up without intervention. Every
//! wait is bounded: a down HSM gives [`HsmError::Unavailable`] within the connect timeout.

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::timeout;

use super::error::ProtocolError;
use super::handshake;
use super::psk::Psk;
use super::reply::{to_json, Reply};
use super::session::{Session, MAX_PAYLOAD_BYTES};
use super::wire::{read_frame, write_frame};
use crate::error::HsmError;
use crate::verbs::{Request, Response};

/// Default for [`TcpClientConfig::pool_size`].
pub const DEFAULT_POOL_SIZE: usize = 8;
/// Default for [`TcpClientConfig::connect_timeout_ms`].
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 2_000;
/// Default for [`TcpClientConfig::request_timeout_ms`].
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 5_000;
/// Pooled connections idle longer than this are closed, not reused: well under the server's
/// default idle timeout, so a call rarely races the server closing its connection.
pub const MAX_IDLE_REUSE_MS: u64 = 60_000;

/// Where the HSM is and how to talk to it. `Debug` never shows the PSK.
#[derive(Clone)]
pub struct TcpClientConfig {
    /// `host:port` of `forecourt-hsm serve`.
    pub addr: String,
    pub psk: Psk,
    /// Most connections open at once; calls beyond it wait for one to come free.
    pub pool_size: usize,
    /// Bound on TCP connect plus handshake.
    pub connect_timeout_ms: u64,
    /// Bound on waiting for a free connection, and separately on sending a request and
    /// reading its reply.
    pub request_timeout_ms: u64,
}

impl TcpClientConfig {
    /// A configuration with the default pool size and timeouts.
    pub fn new(addr: impl Into<String>, psk: Psk) -> Self {
        Self {
            addr: addr.into(),
            psk,
            pool_size: DEFAULT_POOL_SIZE,
            connect_timeout_ms: DEFAULT_CONNECT_TIMEOUT_MS,
            request_timeout_ms: DEFAULT_REQUEST_TIMEOUT_MS,
        }
    }

    fn validate(&self) -> Result<(), HsmError> {
        if self.pool_size == 0 {
            return Err(HsmError::invalid("HSM pool_size must be at least 1"));
        }
        if self.connect_timeout_ms == 0 || self.request_timeout_ms == 0 {
            return Err(HsmError::invalid("HSM timeouts must be at least 1 ms"));
        }
        Ok(())
    }
}

impl fmt::Debug for TcpClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpClientConfig")
            .field("addr", &self.addr)
            .field("psk", &"<redacted>")
            .field("pool_size", &self.pool_size)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .finish()
    }
}

/// The pool. Shared by every clone of an `HsmClient`.
pub(crate) struct TcpTransport {
    config: TcpClientConfig,
    /// Authenticated connections not in use.
    idle: Mutex<Vec<Connection>>,
    /// One permit per connection that may exist (idle or in use).
    slots: Semaphore,
}

impl TcpTransport {
    /// Checks the configuration; connects lazily, on the first call.
    pub(crate) fn new(config: TcpClientConfig) -> Result<Self, HsmError> {
        config.validate()?;
        let slots = Semaphore::new(config.pool_size);
        Ok(Self { config, idle: Mutex::new(Vec::new()), slots })
    }

    pub(crate) fn addr(&self) -> &str {
        &self.config.addr
    }

    pub(crate) fn pool_size(&self) -> usize {
        self.config.pool_size
    }

    /// Sends `request` on a pooled connection and returns the HSM's answer.
    pub(crate) async fn call(&self, request: &Request) -> Result<Response, HsmError> {
        let payload = to_json(request)?;
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(HsmError::invalid("request exceeds the HSM frame size limit"));
        }
        let _slot = timeout(self.request_timeout(), self.slots.acquire())
            .await
            .map_err(|_| self.unavailable("every pooled connection stayed busy"))?
            .map_err(|_| self.unavailable("the connection pool is closed"))?;
        let mut conn = match self.take_idle() {
            Some(conn) => conn,
            None => self.dial().await?,
        };
        let reply = match timeout(self.request_timeout(), conn.exchange(&payload)).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(e)) => return Err(self.unavailable(&e.to_string())),
            Err(_) => {
                let ms = self.config.request_timeout_ms;
                return Err(
                    self.unavailable(&format!("no answer within the request timeout ({ms} ms)"))
                );
            }
        };
        // Only a connection that completed an exchange goes back; the slot is released
        // after it is back in the idle list, so a waiting call finds it there.
        conn.idle_since = Instant::now();
        self.idle.lock().unwrap_or_else(PoisonError::into_inner).push(conn);
        Result::from(reply)
    }

    /// An idle connection the HSM has not closed, dropping any it has (after an HSM restart
    /// or its idle timeout, the pool holds connections whose peer is gone).
    fn take_idle(&self) -> Option<Connection> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(conn) = idle.pop() {
            if conn.is_open()
                && conn.idle_since.elapsed() < Duration::from_millis(MAX_IDLE_REUSE_MS)
            {
                return Some(conn);
            }
        }
        None
    }

    async fn dial(&self) -> Result<Connection, HsmError> {
        let limit = Duration::from_millis(self.config.connect_timeout_ms);
        match timeout(limit, Connection::open(&self.config.addr, &self.config.psk)).await {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(ProtocolError::NotAuthenticated)) => Err(self.unavailable(
                "handshake failed: the HSM did not prove the pre-shared key (keys differ?)",
            )),
            Ok(Err(e)) => Err(self.unavailable(&format!("cannot connect: {e}"))),
            Err(_) => Err(self.unavailable(&format!(
                "no connection within the connect timeout ({} ms)",
                self.config.connect_timeout_ms
            ))),
        }
    }

    fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.config.request_timeout_ms)
    }

    fn unavailable(&self, why: &str) -> HsmError {
        HsmError::Unavailable(format!("HSM at {}: {why}", self.config.addr))
    }
}

/// One authenticated connection.
struct Connection {
    stream: TcpStream,
    session: Session,
    idle_since: Instant,
}

impl Connection {
    async fn open(addr: &str, psk: &Psk) -> Result<Self, ProtocolError> {
        let mut stream = TcpStream::connect(addr).await?;
        // Requests and replies are small and strictly alternate: do not wait to coalesce.
        stream.set_nodelay(true)?;
        let session = handshake::client(&mut stream, psk).await?;
        Ok(Self { stream, session, idle_since: Instant::now() })
    }

    /// Whether the peer may still be there: between exchanges nothing should be readable,
    /// so end of stream, an error or unexpected bytes all mean the connection is spent.
    fn is_open(&self) -> bool {
        let mut probe = [0u8; 1];
        let read = self.stream.try_read(&mut probe);
        matches!(read, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    }

    async fn exchange(&mut self, payload: &[u8]) -> Result<Reply, ProtocolError> {
        let frame = self.session.seal(payload)?;
        write_frame(&mut self.stream, &frame).await?;
        let body = read_frame(&mut self.stream).await?;
        let json = self.session.open(&body)?;
        serde_json::from_slice(&json)
            .map_err(|_| ProtocolError::Malformed("reply is not JSON the client knows"))
    }
}
