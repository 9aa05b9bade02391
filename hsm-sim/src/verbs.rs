//! The HSM's verbs as plain request/response values. They are serde types so that the TCP
//! transport can carry them in frames unchanged; byte strings travel as hex, except inside
//! an [`EncryptedBatch`], whose own serde form (base64url, defined by `emv`) is the one the
//! phone receives.
//!
//! `Debug` of a [`Request`] never shows a cryptogram or a cryptogram input (the input holds
//! the token PAN in BCD), nor a terminal MAC or the message it signs; PANs print as their
//! last four digits. A [`TerminalSecret`] prints as `<redacted>` wherever it appears.

use std::fmt;

use emv::cryptogram::KeyIndex;
use emv::luk_batch::EncryptedBatch;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::hexser;
use crate::pan::{self, Pan};

/// One request to the HSM.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verb", rename_all = "snake_case")]
pub enum Request {
    /// Make a new random PAN under `bin`; only its ciphertext, fingerprint and last four
    /// digits come back.
    GeneratePan {
        bin: String,
        length: u8,
    },
    /// Keyed fingerprint of a PAN, to find a card by its number.
    PanFingerprint {
        #[serde(with = "pan::wire")]
        pan: Pan,
    },
    /// Decrypt a PAN ciphertext made by `GeneratePan`.
    DecryptPan {
        #[serde(with = "hexser::vec")]
        ciphertext: Vec<u8>,
    },
    /// ECDSA P-256 / SHA-256 signature with a signing key.
    Sign {
        label: String,
        #[serde(with = "hexser::vec")]
        message: Vec<u8>,
    },
    /// Public half of a signing key.
    PublicKey {
        label: String,
    },
    Health,
    /// Make the next version of the issuer master key (IMK) and persist it. Versions run
    /// from 1 to 255 (the IAD carries the version in one byte).
    GenerateIssuerKey,
    /// Every IMK version, oldest first.
    IssuerKeyVersions,
    /// Derive the LUKs `luks` of `token_pan` from IMK `imk_version` and seal them to the
    /// device key (`docs/CRYPTOGRAM.md`, "LUK batch"). 1 to 32 specs, distinct key indexes.
    DeriveLukBatch {
        imk_version: u32,
        #[serde(with = "pan::wire")]
        token_pan: Pan,
        /// The token's id as ASCII; bound into the batch key and the AAD.
        token_ref: String,
        /// SEC1 uncompressed P-256 point (65 bytes).
        #[serde(with = "hexser::vec")]
        device_public_key: Vec<u8>,
        luks: Vec<LukSpec>,
    },
    /// Derive the LUK `key_index` of `token_pan` from IMK `imk_version` and check
    /// `cryptogram` over `input` in constant time. The input must be a layout-1 input that
    /// carries this token PAN and key index.
    VerifyCryptogram {
        imk_version: u32,
        #[serde(with = "pan::wire")]
        token_pan: Pan,
        #[serde(with = "hexser::array")]
        key_index: [u8; 6],
        /// The 54-byte cryptogram input.
        #[serde(with = "hexser::vec")]
        input: Vec<u8>,
        #[serde(with = "hexser::array")]
        cryptogram: [u8; 8],
    },
    /// Make a random 32-byte request-signing secret for the terminal `terminal_ref` and wrap
    /// it under the terminal key-wrap key, bound to `terminal_ref` (`docs/TERMINAL-API.md`).
    /// `terminal_ref`: 1 to 128 printable ASCII characters (`0x21..=0x7E`).
    GenerateTerminalSecret {
        terminal_ref: String,
    },
    /// Unwrap the secret `wrapped` of `terminal_ref` inside the HSM and check `mac` =
    /// HMAC-SHA256(secret, `message`) in constant time (`emv::terminal_auth::verify`).
    /// Anything that does not verify — a wrong MAC or message, a secret wrapped for another
    /// terminal, an altered or malformed `wrapped` — answers `valid: false`, not an error.
    VerifyTerminalMac {
        terminal_ref: String,
        /// As `GenerateTerminalSecret` returned it.
        #[serde(with = "hexser::vec")]
        wrapped: Vec<u8>,
        /// The canonical request (`emv::terminal_auth::canonical_request`).
        #[serde(with = "hexser::vec")]
        message: Vec<u8>,
        #[serde(with = "hexser::array")]
        mac: [u8; 32],
    },
}

/// One LUK to derive: its key index and the limits the phone will enforce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LukSpec {
    /// Issue time (u32 unix seconds) ‖ sequence number (u16), see [`KeyIndex`].
    #[serde(with = "hexser::array")]
    pub key_index: [u8; 6],
    /// Unix seconds.
    pub expires_at_s: u64,
    /// Transaction budget, at least 1.
    pub max_uses: u16,
}

/// A version of the issuer master key, as operators may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuerKeyInfo {
    pub version: u32,
    /// First 3 bytes of HMAC-SHA256(key, 16 zero bytes), 6 uppercase hex digits.
    pub kcv: String,
    /// Unix seconds.
    pub created_at: u64,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::GeneratePan { bin, length } => {
                f.debug_struct("GeneratePan").field("bin", bin).field("length", length).finish()
            }
            Self::PanFingerprint { pan } => {
                f.debug_struct("PanFingerprint").field("pan", pan).finish()
            }
            Self::DecryptPan { ciphertext } => {
                f.debug_struct("DecryptPan").field("ciphertext", ciphertext).finish()
            }
            Self::Sign { label, message } => {
                f.debug_struct("Sign").field("label", label).field("message", message).finish()
            }
            Self::PublicKey { label } => f.debug_struct("PublicKey").field("label", label).finish(),
            Self::Health => f.write_str("Health"),
            Self::GenerateIssuerKey => f.write_str("GenerateIssuerKey"),
            Self::IssuerKeyVersions => f.write_str("IssuerKeyVersions"),
            Self::DeriveLukBatch { imk_version, token_pan, token_ref, device_public_key, luks } => {
                f.debug_struct("DeriveLukBatch")
                    .field("imk_version", imk_version)
                    .field("token_pan", token_pan)
                    .field("token_ref", token_ref)
                    .field("device_public_key", &format_args!("{} bytes", device_public_key.len()))
                    .field("luks", luks)
                    .finish()
            }
            Self::VerifyCryptogram { imk_version, token_pan, key_index, input, cryptogram: _ } => f
                .debug_struct("VerifyCryptogram")
                .field("imk_version", imk_version)
                .field("token_pan", token_pan)
                .field("key_index", &KeyIndex(*key_index))
                .field("input", &format_args!("<{} bytes>", input.len()))
                .field("cryptogram", &format_args!("<redacted>"))
                .finish(),
            Self::GenerateTerminalSecret { terminal_ref } => f
                .debug_struct("GenerateTerminalSecret")
                .field("terminal_ref", terminal_ref)
                .finish(),
            Self::VerifyTerminalMac { terminal_ref, wrapped, message, mac: _ } => f
                .debug_struct("VerifyTerminalMac")
                .field("terminal_ref", terminal_ref)
                .field("wrapped", &format_args!("<{} bytes>", wrapped.len()))
                .field("message", &format_args!("<{} bytes>", message.len()))
                .field("mac", &format_args!("<redacted>"))
                .finish(),
        }
    }
}

impl Request {
    /// The verb's name, for logs (requests themselves may hold a PAN).
    pub fn verb(&self) -> &'static str {
        match self {
            Self::GeneratePan { .. } => "generate_pan",
            Self::PanFingerprint { .. } => "pan_fingerprint",
            Self::DecryptPan { .. } => "decrypt_pan",
            Self::Sign { .. } => "sign",
            Self::PublicKey { .. } => "public_key",
            Self::Health => "health",
            Self::GenerateIssuerKey => "generate_issuer_key",
            Self::IssuerKeyVersions => "issuer_key_versions",
            Self::DeriveLukBatch { .. } => "derive_luk_batch",
            Self::VerifyCryptogram { .. } => "verify_cryptogram",
            Self::GenerateTerminalSecret { .. } => "generate_terminal_secret",
            Self::VerifyTerminalMac { .. } => "verify_terminal_mac",
        }
    }
}

/// The answer to a [`Request`], one variant per verb.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "verb", rename_all = "snake_case")]
pub enum Response {
    GeneratePan(IssuedPan),
    PanFingerprint {
        #[serde(with = "hexser::array")]
        fingerprint: [u8; 32],
    },
    DecryptPan {
        #[serde(with = "pan::wire")]
        pan: Pan,
    },
    Sign {
        /// `r || s`, 32 bytes each, big-endian (the JWS ES256 encoding).
        #[serde(with = "hexser::array")]
        signature: [u8; 64],
    },
    PublicKey {
        /// SEC1 uncompressed point: `04 || x || y`, 65 bytes.
        #[serde(with = "hexser::vec")]
        sec1: Vec<u8>,
    },
    Health(HealthReport),
    /// The IMK version `GenerateIssuerKey` made.
    IssuerKey(IssuerKeyInfo),
    IssuerKeyVersions {
        /// Oldest first, newest last.
        versions: Vec<IssuerKeyInfo>,
    },
    /// LUKs sealed to the device key; only the device can open them.
    LukBatch(EncryptedBatch),
    /// `valid: false` when the cryptogram does not verify (not an error).
    CryptogramVerified {
        valid: bool,
    },
    /// A new terminal secret: `secret` in clear, to be shown **once** to the operator who
    /// loads it into the terminal and then forgotten; `wrapped`, the form to store. Layout
    /// of `wrapped` (opaque to callers; see the `terminal_ops` module): `0x01 ‖ key version
    /// (u32 BE) ‖ nonce (12) ‖ AES-256-GCM(secret) with its tag`, 65 bytes.
    TerminalSecret {
        secret: TerminalSecret,
        #[serde(with = "hexser::vec")]
        wrapped: Vec<u8>,
    },
    /// `valid: false` when the MAC does not verify or the wrapped secret does not unwrap for
    /// this terminal (not an error: the caller refuses the request).
    TerminalMacVerified {
        valid: bool,
    },
}

impl Response {
    /// The verb this answers, for logs and errors (responses may hold a PAN).
    pub fn verb(&self) -> &'static str {
        match self {
            Self::GeneratePan(_) => "generate_pan",
            Self::PanFingerprint { .. } => "pan_fingerprint",
            Self::DecryptPan { .. } => "decrypt_pan",
            Self::Sign { .. } => "sign",
            Self::PublicKey { .. } => "public_key",
            Self::Health(_) => "health",
            Self::IssuerKey(_) => "generate_issuer_key",
            Self::IssuerKeyVersions { .. } => "issuer_key_versions",
            Self::LukBatch(_) => "derive_luk_batch",
            Self::CryptogramVerified { .. } => "verify_cryptogram",
            Self::TerminalSecret { .. } => "generate_terminal_secret",
            Self::TerminalMacVerified { .. } => "verify_terminal_mac",
        }
    }
}

/// A freshly generated PAN as the issuer may store it: never the clear number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedPan {
    /// Opaque to callers (layout: see the `pan_ops` module): store it as is.
    #[serde(with = "hexser::vec")]
    pub ciphertext: Vec<u8>,
    /// HMAC-SHA256 of the digits under the PAN fingerprint key.
    #[serde(with = "hexser::array")]
    pub fingerprint: [u8; 32],
    pub last4: String,
    /// Version of the PAN encryption key used.
    pub key_version: u32,
}

/// Liveness and identity of the HSM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthReport {
    pub status: String,
    pub lmk_kcv: String,
    pub key_count: usize,
}

/// A terminal's request-signing secret (32 bytes) as `GenerateTerminalSecret` returns it.
/// Zeroized on drop; `Debug` prints `TerminalSecret(<redacted>)`; equality is constant time;
/// lowercase hex on the wire (the text is zeroized too).
#[derive(Clone)]
pub struct TerminalSecret(Zeroizing<[u8; 32]>);

impl TerminalSecret {
    pub fn new(bytes: Zeroizing<[u8; 32]>) -> Self {
        Self(bytes)
    }

    /// The clear secret, to hand to the operator once or to sign with in tests.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn into_inner(self) -> Zeroizing<[u8; 32]> {
        self.0
    }
}

impl fmt::Debug for TerminalSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TerminalSecret(<redacted>)")
    }
}

impl PartialEq for TerminalSecret {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&*other.0).into()
    }
}

impl Eq for TerminalSecret {}

impl Serialize for TerminalSecret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = Zeroizing::new(hex::encode(self.0.as_slice()));
        s.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for TerminalSecret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Zeroizing::new(String::deserialize(d)?);
        let mut out = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.as_bytes(), out.as_mut())
            .map_err(|_| serde::de::Error::custom("terminal secret must be 64 hex digits"))?;
        Ok(Self(out))
    }
}
