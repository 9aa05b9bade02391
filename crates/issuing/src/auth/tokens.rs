//! Access tokens (ES256 JWTs signed inside the HSM) and opaque refresh tokens.
//!
//! The server never holds the JWT private key: it builds the JWS signing input and asks the
//! HSM to sign it, and verifies with the public key through `jsonwebtoken`.

use crate::error::{IssuingError, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use domain::{OrgId, Role, SessionId, UserId};
use hsm_sim::{labels, HsmClient};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Access tokens live at most this long; logout and deactivation cut them shorter because
/// every request also checks the session.
pub const MAX_ACCESS_TOKEN_TTL_SECS: i64 = 900;
/// Clock difference tolerated between the signer and a verifier.
const JWT_LEEWAY_SECS: u64 = 30;
const REFRESH_TOKEN_BYTES: usize = 32;

/// The claims of an access token. Every field is required when decoding: a token missing
/// `org` or `scope` (even as `null`) is refused.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: UserId,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub sid: SessionId,
    #[serde(deserialize_with = "Option::deserialize")]
    pub org: Option<OrgId>,
    pub role: Role,
    /// The group subtree an admin manages (its id), or `null` for the whole org / platform.
    #[serde(deserialize_with = "Option::deserialize")]
    pub scope: Option<String>,
}

/// Signs and verifies access tokens. Holds only the public key.
#[derive(Clone)]
pub struct TokenSigner {
    hsm: HsmClient,
    decoding: DecodingKey,
    validation: Validation,
    kid: String,
    public_sec1: Vec<u8>,
}

impl TokenSigner {
    pub async fn new(hsm: HsmClient, issuer: &str, audience: &str) -> Result<Self> {
        let sec1 = hsm.public_key(labels::JWT_SIGNING).await?;
        let (x, y) = sec1_coordinates(&sec1)?;
        let decoding = DecodingKey::from_ec_components(&x, &y)
            .map_err(|_| IssuingError::Internal("jwt public key".into()))?;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["iss", "aud", "exp", "iat", "sub"]);
        validation.leeway = JWT_LEEWAY_SECS;
        validation.validate_exp = true;
        // Key id: a short hash of the public key, so a rotated key gets a new kid.
        let kid = hex_prefix(&Sha256::digest(&sec1));
        Ok(Self { hsm, decoding, validation, kid, public_sec1: sec1 })
    }

    /// Signs any claims document (tests use this to forge malformed-but-signed tokens).
    pub async fn sign<C: Serialize>(&self, claims: &C) -> Result<String> {
        let header = serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": self.kid});
        let input = format!("{}.{}", b64_json(&header)?, b64_json(claims)?);
        let signature = self.hsm.sign(labels::JWT_SIGNING, input.as_bytes()).await?;
        Ok(format!("{input}.{}", B64.encode(signature)))
    }

    /// Checks signature, algorithm, issuer, audience, expiry and the presence of every claim.
    pub fn verify(&self, token: &str) -> Result<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|_| IssuingError::Unauthenticated("invalid or expired access token"))
    }

    /// The public key as a JWK set, for services that verify our tokens themselves.
    pub fn jwks(&self) -> serde_json::Value {
        let (x, y) = sec1_coordinates(&self.public_sec1).unwrap_or_default();
        serde_json::json!({"keys": [{
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig",
            "kid": self.kid, "x": x, "y": y,
        }]})
    }
}

fn b64_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_vec(value)
        .map(|bytes| B64.encode(bytes))
        .map_err(|_| IssuingError::Internal("jwt encoding".into()))
}

/// Base64url x and y of an uncompressed SEC1 point (0x04 || x || y).
fn sec1_coordinates(sec1: &[u8]) -> Result<(String, String)> {
    match sec1 {
        [0x04, rest @ ..] if rest.len() == 64 => {
            Ok((B64.encode(&rest[..32]), B64.encode(&rest[32..])))
        }
        _ => {
            Err(IssuingError::Internal("jwt public key is not an uncompressed P-256 point".into()))
        }
    }
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// A new opaque token (refresh or invite): 256 random bits, base64url. Only its hash is
/// stored.
pub fn new_opaque_token() -> String {
    let mut bytes = [0u8; REFRESH_TOKEN_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    B64.encode(bytes)
}

/// SHA-256 (hex) of an opaque token. Enough for 256-bit random tokens: no salt or slow hash
/// is needed when the input cannot be guessed.
pub fn hash_opaque_token(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    const ISS: &str = "forecourt";
    const AUD: &str = "forecourt-api";

    fn hsm() -> HsmClient {
        let dir = std::env::temp_dir().join(format!("fc-jwt-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        HsmClient::in_process(hsm_sim::Engine::open_demo(&dir).unwrap())
    }

    fn claims(now: i64) -> Value {
        json!({
            "iss": ISS, "aud": AUD, "sub": UserId::new(), "iat": now, "exp": now + 600,
            "jti": "j", "sid": SessionId::new(), "org": null, "role": "operator", "scope": null,
        })
    }

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    #[tokio::test]
    async fn every_claim_is_required_and_checked() {
        let signer = TokenSigner::new(hsm(), ISS, AUD).await.unwrap();
        let good = claims(now());
        assert!(signer.verify(&signer.sign(&good).await.unwrap()).is_ok());
        for field in ["iss", "aud", "sub", "iat", "exp", "sid", "org", "role", "scope"] {
            let mut c = good.clone();
            c.as_object_mut().unwrap().remove(field);
            let token = signer.sign(&c).await.unwrap();
            assert!(signer.verify(&token).is_err(), "a token without {field} must be refused");
        }
        let mut expired = good.clone();
        expired["exp"] = json!(now() - 120);
        assert!(signer.verify(&signer.sign(&expired).await.unwrap()).is_err(), "expired");
        for (field, value) in [("iss", "someone-else"), ("aud", "another-api")] {
            let mut c = good.clone();
            c[field] = json!(value);
            assert!(signer.verify(&signer.sign(&c).await.unwrap()).is_err(), "wrong {field}");
        }
    }

    #[tokio::test]
    async fn other_keys_and_algorithms_are_refused() {
        let signer = TokenSigner::new(hsm(), ISS, AUD).await.unwrap();
        let stranger = TokenSigner::new(hsm(), ISS, AUD).await.unwrap();
        let token = stranger.sign(&claims(now())).await.unwrap();
        assert!(signer.verify(&token).is_err(), "signed by another HSM's key");
        let body = B64.encode(claims(now()).to_string());
        let none = format!("{}.{body}.", B64.encode(r#"{"alg":"none","typ":"JWT"}"#));
        assert!(signer.verify(&none).is_err(), "alg none");
        let hs = format!("{}.{body}.AAAA", B64.encode(r#"{"alg":"HS256","typ":"JWT"}"#));
        assert!(signer.verify(&hs).is_err(), "alg confusion");
    }

    #[test]
    fn opaque_tokens_are_random_and_hashed() {
        let (a, b) = (new_opaque_token(), new_opaque_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(hash_opaque_token(&a).len(), 64);
        assert_ne!(hash_opaque_token(&a), a);
    }
}
