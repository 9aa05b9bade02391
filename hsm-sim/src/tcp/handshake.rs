//! Mutual authentication on connect. Both ends hold the PSK; neither sends it.
//!
//! 1. client → HSM: `"FHS1" ‖ Nc` (32 random bytes)
//! 2. HSM → client: `"FHS1" ‖ Ns ‖ HMAC(PSK, "forecourt-hsm/1 server" ‖ Nc ‖ Ns)`
//! 3. client → HSM: `HMAC(PSK, "forecourt-hsm/1 client" ‖ Nc ‖ Ns)`
//!
//! Each end proves the PSK over a nonce the other just chose, so a recorded handshake cannot
//! be replayed; the labels differ so one side's proof is never valid as the other's. Each
//! message is a length-prefixed frame of fixed size.

use tokio::io::{AsyncRead, AsyncWrite};

use rand::rngs::OsRng;
use rand::RngCore;

use super::error::ProtocolError;
use super::psk::Psk;
use super::session::{Role, Session};
use super::wire::{read_frame, write_frame};

/// Protocol name and version at the start of both hellos.
pub(crate) const MAGIC: &[u8; 4] = b"FHS1";
pub(crate) const NONCE_LEN: usize = 32;
const PROOF_LEN: usize = 32;
const SERVER_LABEL: &[u8] = b"forecourt-hsm/1 server";
const CLIENT_LABEL: &[u8] = b"forecourt-hsm/1 client";

/// The client's side; fails with [`ProtocolError::NotAuthenticated`] if the HSM does not
/// hold our PSK.
pub(crate) async fn client<S>(stream: &mut S, psk: &Psk) -> Result<Session, ProtocolError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let nc = nonce();
    write_frame(stream, &[MAGIC.as_slice(), &nc].concat()).await?;
    let hello = read_frame(stream).await?;
    let rest = hello.strip_prefix(MAGIC).ok_or(ProtocolError::Malformed("bad server hello"))?;
    if rest.len() != NONCE_LEN + PROOF_LEN {
        return Err(ProtocolError::Malformed("bad server hello"));
    }
    let (ns, proof) = rest.split_at(NONCE_LEN);
    if !psk.verify(&[SERVER_LABEL, &nc, ns], proof) {
        return Err(ProtocolError::NotAuthenticated);
    }
    write_frame(stream, &psk.mac(&[CLIENT_LABEL, &nc, ns])).await?;
    Ok(Session::new(Role::Client, psk, &nc, ns))
}

/// The HSM's side; fails with [`ProtocolError::NotAuthenticated`] if the client does not
/// hold our PSK.
pub(crate) async fn server<S>(stream: &mut S, psk: &Psk) -> Result<Session, ProtocolError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let hello = read_frame(stream).await?;
    let nc = hello.strip_prefix(MAGIC).ok_or(ProtocolError::Malformed("bad client hello"))?;
    if nc.len() != NONCE_LEN {
        return Err(ProtocolError::Malformed("bad client hello"));
    }
    let ns = nonce();
    let proof = psk.mac(&[SERVER_LABEL, nc, &ns]);
    write_frame(stream, &[MAGIC.as_slice(), &ns, &proof].concat()).await?;
    let answer = read_frame(stream).await?;
    if !psk.verify(&[CLIENT_LABEL, nc, &ns], &answer) {
        return Err(ProtocolError::NotAuthenticated);
    }
    Ok(Session::new(Role::Server, psk, nc, &ns))
}

fn nonce() -> [u8; NONCE_LEN] {
    let mut n = [0u8; NONCE_LEN];
    OsRng.fill_bytes(&mut n);
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn run(
        client_psk: Psk,
        server_psk: Psk,
    ) -> (Result<Session, ProtocolError>, Result<Session, ProtocolError>) {
        let (mut a, mut b) = tokio::io::duplex(1024);
        let server = tokio::spawn(async move { server(&mut b, &server_psk).await });
        let client = client(&mut a, &client_psk).await;
        drop(a);
        (client, server.await.unwrap())
    }

    #[tokio::test]
    async fn same_psk_gives_the_same_session_on_both_ends() {
        let psk = Psk::generate();
        let (client, server) = run(psk.clone(), psk).await;
        let (mut client, mut server) = (client.unwrap(), server.unwrap());
        assert_eq!(client.id_hex(), server.id_hex());
        assert_eq!(server.open(&client.seal(b"hi").unwrap()).unwrap().as_slice(), b"hi");
    }

    #[tokio::test]
    async fn a_different_psk_fails_on_both_ends() {
        let (client, server) = run(Psk::generate(), Psk::generate()).await;
        assert!(matches!(client, Err(ProtocolError::NotAuthenticated)));
        // The client hung up without a proof.
        assert!(matches!(server, Err(ProtocolError::Closed)));
    }

    #[tokio::test]
    async fn a_client_guessing_the_proof_is_refused() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        let psk = Psk::generate();
        let server = tokio::spawn(async move { server(&mut b, &psk).await });
        write_frame(&mut a, &[MAGIC.as_slice(), &[7u8; NONCE_LEN]].concat()).await.unwrap();
        read_frame(&mut a).await.unwrap();
        write_frame(&mut a, &[0u8; PROOF_LEN]).await.unwrap();
        assert!(matches!(server.await.unwrap(), Err(ProtocolError::NotAuthenticated)));
    }
}
