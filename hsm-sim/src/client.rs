//! The handle services use to talk to the HSM.
//!
//! Two transports, one code path: [`HsmClient::in_process`] runs the [`Engine`] in this
//! process; [`HsmClient::tcp`] sends the same [`Request`] values in authenticated frames to
//! `forecourt-hsm serve` (see [`crate::tcp`]) and reads back the same [`Response`]s. Every
//! typed helper goes through [`HsmClient::call`], so callers do not change with the
//! transport. Whatever the transport, callers name keys by label and get back results —
//! ciphertexts, fingerprints, signatures, public keys — never the keys themselves.

use std::fmt;
use std::sync::Arc;

use crate::engine::Engine;
use crate::error::HsmError;
use crate::pan::Pan;
use crate::tcp::client::TcpTransport;
use crate::tcp::TcpClientConfig;
use crate::verbs::{HealthReport, IssuedPan, Request, Response};

/// Cheap to clone; share one per process.
#[derive(Clone)]
pub struct HsmClient {
    transport: Transport,
}

#[derive(Clone)]
enum Transport {
    InProcess(Arc<Engine>),
    Tcp(Arc<TcpTransport>),
}

impl HsmClient {
    /// A client calling `engine` directly in this process.
    pub fn in_process(engine: impl Into<Arc<Engine>>) -> Self {
        Self { transport: Transport::InProcess(engine.into()) }
    }

    /// A client of the HSM at `config.addr` over TCP, through a pool of authenticated
    /// connections. Checks the configuration only: connections are made on first use, so a
    /// service may start before its HSM (calls then fail with [`HsmError::Unavailable`]).
    pub fn tcp(config: TcpClientConfig) -> Result<Self, HsmError> {
        Ok(Self { transport: Transport::Tcp(Arc::new(TcpTransport::new(config)?)) })
    }

    /// Sends one request. In process, verbs take microseconds, so they run inline rather
    /// than on a blocking thread.
    pub async fn call(&self, request: Request) -> Result<Response, HsmError> {
        match &self.transport {
            Transport::InProcess(engine) => engine.execute(request),
            Transport::Tcp(pool) => pool.call(&request).await,
        }
    }

    /// A new PAN under `bin` with `length` digits; the clear number stays in the HSM.
    pub async fn generate_pan(&self, bin: &str, length: u8) -> Result<IssuedPan, HsmError> {
        match self.call(Request::GeneratePan { bin: bin.into(), length }).await? {
            Response::GeneratePan(issued) => Ok(issued),
            other => Err(unexpected(&other)),
        }
    }

    /// Keyed fingerprint of `pan`, equal to the one `generate_pan` returned for it.
    pub async fn pan_fingerprint(&self, pan: &Pan) -> Result<[u8; 32], HsmError> {
        match self.call(Request::PanFingerprint { pan: pan.clone() }).await? {
            Response::PanFingerprint { fingerprint } => Ok(fingerprint),
            other => Err(unexpected(&other)),
        }
    }

    /// The clear PAN behind a ciphertext from `generate_pan`.
    pub async fn decrypt_pan(&self, ciphertext: &[u8]) -> Result<Pan, HsmError> {
        match self.call(Request::DecryptPan { ciphertext: ciphertext.to_vec() }).await? {
            Response::DecryptPan { pan } => Ok(pan),
            other => Err(unexpected(&other)),
        }
    }

    /// ECDSA P-256 signature `r || s` over SHA-256(`message`) with the signing key `label`.
    pub async fn sign(&self, label: &str, message: &[u8]) -> Result<[u8; 64], HsmError> {
        let request = Request::Sign { label: label.into(), message: message.to_vec() };
        match self.call(request).await? {
            Response::Sign { signature } => Ok(signature),
            other => Err(unexpected(&other)),
        }
    }

    /// SEC1 uncompressed public key (65 bytes) of the signing key `label`.
    pub async fn public_key(&self, label: &str) -> Result<Vec<u8>, HsmError> {
        match self.call(Request::PublicKey { label: label.into() }).await? {
            Response::PublicKey { sec1 } => Ok(sec1),
            other => Err(unexpected(&other)),
        }
    }

    pub async fn health(&self) -> Result<HealthReport, HsmError> {
        match self.call(Request::Health).await? {
            Response::Health(report) => Ok(report),
            other => Err(unexpected(&other)),
        }
    }
}

impl fmt::Debug for HsmClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.transport {
            Transport::InProcess(engine) => {
                write!(f, "HsmClient(in-process, lmk_kcv={})", engine.lmk_kcv())
            }
            Transport::Tcp(pool) => {
                write!(f, "HsmClient(tcp, addr={}, pool_size={})", pool.addr(), pool.pool_size())
            }
        }
    }
}

/// A response of the wrong kind means a broken transport, not a refused request.
fn unexpected(response: &Response) -> HsmError {
    HsmError::Unavailable(format!("HSM answered with an unexpected `{}` response", response.verb()))
}
