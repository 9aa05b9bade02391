//! One authenticated connection's frame bodies:
//!
//! `direction (1) ‖ session id (16) ‖ sequence (u64 BE) ‖ timestamp ms (u64 BE) ‖ payload ‖
//! HMAC-SHA256(session key, everything before it) (32)`.
//!
//! The session key comes from fresh nonces of both ends, so a frame captured on another
//! connection fails its MAC here; the direction byte stops a frame being reflected back to
//! its sender; sequence numbers (exactly one more than the last, per direction) stop replay
//! and reordering within the connection; the timestamp bounds how long a frame may be held.

use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::error::ProtocolError;
use super::psk::{hmac_sha256, hmac_sha256_verify, Psk};
use super::{MAX_CLOCK_SKEW_MS, MAX_FRAME_BYTES};

/// Direction byte of frames from client to HSM.
pub(crate) const CLIENT_TO_SERVER: u8 = 0x01;
/// Direction byte of frames from HSM to client.
pub(crate) const SERVER_TO_CLIENT: u8 = 0x02;
/// Bytes of the session id.
pub(crate) const SESSION_ID_LEN: usize = 16;
/// Bytes of the header: direction, session id, sequence, timestamp.
pub(crate) const HEADER_LEN: usize = 1 + SESSION_ID_LEN + 8 + 8;
/// Bytes of the HMAC-SHA256 tag.
pub(crate) const TAG_LEN: usize = 32;
/// Largest JSON payload that fits in a frame.
pub(crate) const MAX_PAYLOAD_BYTES: usize = MAX_FRAME_BYTES - HEADER_LEN - TAG_LEN;

/// Which end of the connection this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Client,
    Server,
}

pub(crate) struct Session {
    key: Zeroizing<[u8; 32]>,
    id: [u8; SESSION_ID_LEN],
    role: Role,
    /// Sequence number of the last frame sent; the first frame carries 1.
    sent: u64,
    /// Sequence number of the last frame accepted.
    received: u64,
}

impl Session {
    /// The session both ends derive from the PSK and the handshake nonces.
    pub(crate) fn new(role: Role, psk: &Psk, client_nonce: &[u8], server_nonce: &[u8]) -> Self {
        let key =
            Zeroizing::new(psk.mac(&[b"forecourt-hsm/1 session", client_nonce, server_nonce]));
        // Public: names the connection in logs and headers; it needs no key.
        let digest = Sha256::new().chain_update(b"forecourt-hsm/1 id").chain_update(client_nonce);
        let digest = digest.chain_update(server_nonce).finalize();
        let mut id = [0u8; SESSION_ID_LEN];
        id.copy_from_slice(&digest[..SESSION_ID_LEN]);
        Self { key, id, role, sent: 0, received: 0 }
    }

    /// The session id in hex, for logs.
    pub(crate) fn id_hex(&self) -> String {
        hex::encode(self.id)
    }

    /// The next frame body carrying `payload`.
    pub(crate) fn seal(&mut self, payload: &[u8]) -> Result<Zeroizing<Vec<u8>>, ProtocolError> {
        self.seal_at(payload, now_ms())
    }

    fn seal_at(&mut self, payload: &[u8], at_ms: u64) -> Result<Zeroizing<Vec<u8>>, ProtocolError> {
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(ProtocolError::TooLarge(payload.len() + HEADER_LEN + TAG_LEN));
        }
        let seq = self.sent.checked_add(1).ok_or(ProtocolError::Malformed("sequence exhausted"))?;
        self.sent = seq;
        let mut body = Zeroizing::new(Vec::with_capacity(HEADER_LEN + payload.len() + TAG_LEN));
        body.push(outgoing(self.role));
        body.extend_from_slice(&self.id);
        body.extend_from_slice(&seq.to_be_bytes());
        body.extend_from_slice(&at_ms.to_be_bytes());
        body.extend_from_slice(payload);
        let tag = hmac_sha256(self.key.as_ref(), &[&body]);
        body.extend_from_slice(&tag);
        Ok(body)
    }

    /// The payload of a frame body from the peer, once its MAC, direction, session id,
    /// sequence number and timestamp are all right. Any error means the connection must close.
    pub(crate) fn open(&mut self, body: &[u8]) -> Result<Zeroizing<Vec<u8>>, ProtocolError> {
        if body.len() < HEADER_LEN + TAG_LEN {
            return Err(ProtocolError::Malformed("shorter than header and tag"));
        }
        let (signed, tag) = body.split_at(body.len() - TAG_LEN);
        // The MAC first: nothing unauthenticated is interpreted.
        if !hmac_sha256_verify(self.key.as_ref(), &[signed], tag) {
            return Err(ProtocolError::BadMac);
        }
        let (header, payload) = signed.split_at(HEADER_LEN);
        if header[0] != incoming(self.role) {
            return Err(ProtocolError::Malformed("wrong direction"));
        }
        if header[1..=SESSION_ID_LEN] != self.id {
            return Err(ProtocolError::Malformed("wrong session id"));
        }
        let seq = be_u64(&header[1 + SESSION_ID_LEN..HEADER_LEN - 8]);
        let expected = self.received.saturating_add(1);
        if seq != expected {
            return Err(ProtocolError::Sequence { expected, got: seq });
        }
        let skew = be_u64(&header[HEADER_LEN - 8..]).abs_diff(now_ms());
        if skew > MAX_CLOCK_SKEW_MS {
            return Err(ProtocolError::ClockSkew(skew));
        }
        self.received = seq;
        Ok(Zeroizing::new(payload.to_vec()))
    }
}

fn outgoing(role: Role) -> u8 {
    match role {
        Role::Client => CLIENT_TO_SERVER,
        Role::Server => SERVER_TO_CLIENT,
    }
}

fn incoming(role: Role) -> u8 {
    match role {
        Role::Client => SERVER_TO_CLIENT,
        Role::Server => CLIENT_TO_SERVER,
    }
}

fn be_u64(bytes: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    buf.copy_from_slice(bytes);
    u64::from_be_bytes(buf)
}

/// Milliseconds since the Unix epoch (0 if the clock is before it, which then fails the
/// skew check rather than panicking).
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (Session, Session) {
        let psk = Psk::generate();
        let (nc, ns) = ([1u8; 32], [2u8; 32]);
        (Session::new(Role::Client, &psk, &nc, &ns), Session::new(Role::Server, &psk, &nc, &ns))
    }

    #[test]
    fn frames_round_trip_in_order_both_ways() {
        let (mut client, mut server) = pair();
        for n in 0..3u8 {
            let body = client.seal(&[n]).unwrap();
            assert_eq!(body.len(), HEADER_LEN + 1 + TAG_LEN);
            assert_eq!(server.open(&body).unwrap().as_slice(), &[n]);
            let back = server.seal(b"ok").unwrap();
            assert_eq!(client.open(&back).unwrap().as_slice(), b"ok");
        }
    }

    #[test]
    fn replay_reorder_and_reflection_are_refused() {
        let (mut client, mut server) = pair();
        let first = client.seal(b"a").unwrap();
        let second = client.seal(b"b").unwrap();
        assert!(matches!(
            server.open(&second),
            Err(ProtocolError::Sequence { expected: 1, got: 2 })
        ));
        server.open(&first).unwrap();
        assert!(matches!(
            server.open(&first),
            Err(ProtocolError::Sequence { expected: 2, got: 1 })
        ));
        let reflected = client.seal(b"c").unwrap();
        assert!(matches!(
            client.open(&reflected),
            Err(ProtocolError::Malformed("wrong direction"))
        ));
    }

    #[test]
    fn any_flipped_bit_and_another_session_fail_the_mac() {
        let (mut client, _) = pair();
        let body = client.seal(b"payload").unwrap();
        for i in 0..body.len() {
            let mut server = server_for(&client);
            let mut bad = body.to_vec();
            bad[i] ^= 0x80;
            assert!(server.open(&bad).is_err(), "flip at byte {i} accepted");
        }
        let (_, mut other_server) = pair();
        assert!(matches!(other_server.open(&body), Err(ProtocolError::BadMac)));
    }

    /// A fresh server end of `client`'s session (nothing received yet).
    fn server_for(client: &Session) -> Session {
        Session { key: client.key.clone(), id: client.id, role: Role::Server, sent: 0, received: 0 }
    }

    #[test]
    fn stale_or_future_timestamps_are_refused() {
        let (mut client, mut server) = pair();
        let old = client.seal_at(b"x", now_ms() - MAX_CLOCK_SKEW_MS - 1_000).unwrap();
        assert!(matches!(server.open(&old), Err(ProtocolError::ClockSkew(_))));
        let (mut client, mut server) = pair();
        let future = client.seal_at(b"x", now_ms() + MAX_CLOCK_SKEW_MS + 1_000).unwrap();
        assert!(matches!(server.open(&future), Err(ProtocolError::ClockSkew(_))));
        let (mut client, mut server) = pair();
        let near = client.seal_at(b"x", now_ms() - 1_000).unwrap();
        server.open(&near).unwrap();
    }

    #[test]
    fn oversize_payload_is_refused_before_sealing() {
        let (mut client, _) = pair();
        assert!(client.seal(&vec![0u8; MAX_PAYLOAD_BYTES]).is_ok());
        assert!(matches!(
            client.seal(&vec![0u8; MAX_PAYLOAD_BYTES + 1]),
            Err(ProtocolError::TooLarge(_))
        ));
    }
}
