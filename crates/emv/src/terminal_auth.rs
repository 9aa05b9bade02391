//! How a fuel terminal signs its requests to the authorizer, and how the server checks them
//! (`docs/TERMINAL-API.md`). Shared by the terminal simulator, which signs, and the server,
//! which has the HSM verify (the server never holds a terminal secret in clear).
//!
//! ```text
//! canonical = "forecourt-terminal/v1" ‖ LF ‖ METHOD ‖ LF ‖ path-and-query ‖ LF ‖
//!             terminal id ‖ LF ‖ timestamp (unix ms, decimal) ‖ LF ‖ nonce ‖ LF ‖
//!             hex(SHA-256(body))
//! signature = HMAC-SHA256(terminal secret (32 bytes), canonical)
//! ```
//!
//! `LF` is one byte `0x0A`; hex is lowercase; the canonical request has no trailing line
//! feed. The four values travel in the headers [`TERMINAL_ID_HEADER`], [`TIMESTAMP_HEADER`],
//! [`NONCE_HEADER`] and [`SIGNATURE_HEADER`]. A request is accepted only if its timestamp is
//! [`fresh`] (within ±[`MAX_CLOCK_SKEW_MS`] of the server's clock), its nonce is
//! [well formed](valid_nonce) and unused for this terminal, and the signature
//! [verifies](verify).
//!
//! Pure functions: no I/O, no clock, no stored key. Parsers read untrusted header values and
//! never panic. The secret is only borrowed; callers keep it in zeroizing memory.

use std::ops::RangeInclusive;

use hmac::{Hmac, Mac};
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Header carrying the terminal's id, exactly as the server issued it.
pub const TERMINAL_ID_HEADER: &str = "x-forecourt-terminal";
/// Header carrying the signing time: milliseconds since the Unix epoch, ASCII decimal digits.
pub const TIMESTAMP_HEADER: &str = "x-forecourt-timestamp";
/// Header carrying the nonce: 16 to 64 characters of `[A-Za-z0-9_-]`, fresh per request.
pub const NONCE_HEADER: &str = "x-forecourt-nonce";
/// Header carrying the signature: 64 hex digits (32 bytes).
pub const SIGNATURE_HEADER: &str = "x-forecourt-signature";

/// First line of every canonical request; names the scheme and its version.
pub const SCHEME: &str = "forecourt-terminal/v1";
/// Length of a terminal secret.
pub const SECRET_LEN: usize = 32;
/// Length of a signature (HMAC-SHA256).
pub const MAC_LEN: usize = 32;
/// Largest accepted distance, either way, between a request's timestamp and the server's
/// clock: ±5 minutes.
pub const MAX_CLOCK_SKEW_MS: i64 = 300_000;
/// Accepted nonce lengths, in characters.
pub const NONCE_LEN: RangeInclusive<usize> = 16..=64;
/// Most digits a timestamp header may have (keeps the value far inside `i64`).
pub const MAX_TIMESTAMP_DIGITS: usize = 15;

/// The bytes a terminal signs and the server verifies:
///
/// ```text
/// "forecourt-terminal/v1" LF METHOD LF path_and_query LF terminal_id LF timestamp_ms LF
/// nonce LF hex(SHA-256(body))
/// ```
///
/// - `method` is ASCII-uppercased (`post` signs as `POST`);
/// - `path_and_query` is the request target exactly as sent on the request line: path and
///   query string (with its `?`), percent-encoding untouched, no scheme or host, no
///   fragment; `/v1/x?b=2&a=1` and `/v1/x?a=1&b=2` are different requests;
/// - `terminal_id` and `nonce` are the header values as sent;
/// - `timestamp_ms` is written in decimal without leading zeros (`-` only if negative,
///   which [`fresh`] refuses anyway);
/// - the body hash is lowercase hex of SHA-256 over the exact body bytes (for an empty body,
///   SHA-256 of nothing).
///
/// No field may contain a line feed; HTTP cannot carry one in a method, a request target or
/// a header value, and [`valid_nonce`] refuses it in the nonce.
pub fn canonical_request(
    method: &str,
    path_and_query: &str,
    terminal_id: &str,
    timestamp_ms: i64,
    nonce: &str,
    body: &[u8],
) -> Vec<u8> {
    let timestamp = timestamp_ms.to_string();
    let mut out = Vec::with_capacity(
        SCHEME.len()
            + method.len()
            + path_and_query.len()
            + terminal_id.len()
            + timestamp.len()
            + nonce.len()
            + 2 * MAC_LEN
            + 6,
    );
    out.extend_from_slice(SCHEME.as_bytes());
    out.push(b'\n');
    out.extend(method.bytes().map(|b| b.to_ascii_uppercase()));
    for field in [path_and_query, terminal_id, &timestamp, nonce] {
        out.push(b'\n');
        out.extend_from_slice(field.as_bytes());
    }
    out.push(b'\n');
    out.extend_from_slice(body_sha256_hex(body).as_bytes());
    out
}

/// Lowercase hex of SHA-256(`body`), the last line of the canonical request.
pub fn body_sha256_hex(body: &[u8]) -> String {
    hex_lower(&Sha256::digest(body))
}

/// HMAC-SHA256 of `canonical` under the terminal secret.
pub fn sign(secret: &[u8; SECRET_LEN], canonical: &[u8]) -> [u8; MAC_LEN] {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(canonical);
    mac.finalize().into_bytes().into()
}

/// Whether `mac` is the signature of `canonical` under `secret`, compared in constant time.
pub fn verify(secret: &[u8; SECRET_LEN], canonical: &[u8], mac: &[u8; MAC_LEN]) -> bool {
    sign(secret, canonical).ct_eq(mac).into()
}

/// Whether a request signed at `timestamp_ms` may be accepted at `now_ms`: at most
/// [`MAX_CLOCK_SKEW_MS`] apart, either way (bounds included). Never overflows.
pub fn fresh(now_ms: i64, timestamp_ms: i64) -> bool {
    now_ms.abs_diff(timestamp_ms) <= MAX_CLOCK_SKEW_MS.unsigned_abs()
}

/// Whether `nonce` is 16 to 64 characters, each an ASCII letter, digit, `_` or `-`.
pub fn valid_nonce(nonce: &str) -> bool {
    NONCE_LEN.contains(&nonce.len())
        && nonce.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A fresh random nonce for a terminal: 16 random bytes as unpadded base64url (22
/// characters), which [`valid_nonce`] accepts.
pub fn random_nonce() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Reads a [`TIMESTAMP_HEADER`] value: 1 to [`MAX_TIMESTAMP_DIGITS`] ASCII digits, nothing
/// else (no sign, no spaces). `None` for anything else.
pub fn parse_timestamp(header: &str) -> Option<i64> {
    if header.is_empty() || header.len() > MAX_TIMESTAMP_DIGITS {
        return None;
    }
    header.bytes().try_fold(0i64, |acc, b| {
        let digit = b.is_ascii_digit().then(|| i64::from(b - b'0'))?;
        acc.checked_mul(10)?.checked_add(digit)
    })
}

/// Reads a [`SIGNATURE_HEADER`] value: exactly 64 hex digits (either case). `None` for
/// anything else.
pub fn parse_signature(header: &str) -> Option<[u8; MAC_LEN]> {
    let digits = header.as_bytes();
    if digits.len() != 2 * MAC_LEN {
        return None;
    }
    let mut out = [0u8; MAC_LEN];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = (hex_value(pair[0])? << 4) | hex_value(pair[1])?;
    }
    Some(out)
}

/// The [`SIGNATURE_HEADER`] value of `mac`: 64 lowercase hex digits.
pub fn signature_hex(mac: &[u8; MAC_LEN]) -> String {
    hex_lower(mac)
}

fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(2 * bytes.len());
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The published vectors of `docs/TERMINAL-API.md` ("Test vectors"), computed
    /// independently with Python's `hmac`/`hashlib` (the script is in the document).
    const DOC: &str = include_str!("../../../docs/TERMINAL-API.md");
    const SECRET: &str = "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf";
    const TERMINAL_ID: &str = "01937c4e-8f3a-7b2c-9d4e-5f6a7b8c9d0e";
    const TIMESTAMP_MS: i64 = 1_795_392_123_456;

    const POST_PATH: &str = "/v1/terminal/authorizations?mode=online";
    const POST_NONCE: &str = "q7YbW2mX-9kRz_4HtP1sLc";
    const POST_BODY: &str = r#"{"amount_minor":12345,"currency":978,"stan":"000123"}"#;
    const POST_BODY_SHA256: &str =
        "b7977a2bf0fde84cc8cef716cc4bcbd3adaee3339b8b14c563c5c21346bffee4";
    const POST_SIGNATURE: &str = "4688a12aa9765e090a8ff9d5571e6615c89b3ec8fb37e3e1ca4a105d10ae69a7";

    const GET_PATH: &str = "/v1/terminal/ping";
    const GET_NONCE: &str = "0123456789abcdef";
    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const GET_SIGNATURE: &str = "5a3af0541e7b595fabbeca82fc882fb2b4dd79229a99256a7d76dffea010b0ac";

    fn secret() -> [u8; SECRET_LEN] {
        let mut out = [0u8; SECRET_LEN];
        hex::decode_to_slice(SECRET, &mut out).unwrap();
        out
    }

    fn post_canonical() -> Vec<u8> {
        canonical_request(
            "POST",
            POST_PATH,
            TERMINAL_ID,
            TIMESTAMP_MS,
            POST_NONCE,
            POST_BODY.as_bytes(),
        )
    }

    #[test]
    fn published_vector_post_with_body_and_query() {
        let canonical = post_canonical();
        let expected = format!(
            "forecourt-terminal/v1\nPOST\n{POST_PATH}\n{TERMINAL_ID}\n1795392123456\n\
             {POST_NONCE}\n{POST_BODY_SHA256}"
        );
        assert_eq!(String::from_utf8(canonical.clone()).unwrap(), expected);
        assert_eq!(body_sha256_hex(POST_BODY.as_bytes()), POST_BODY_SHA256);
        let mac = sign(&secret(), &canonical);
        assert_eq!(signature_hex(&mac), POST_SIGNATURE);
        assert!(verify(&secret(), &canonical, &mac));
        assert_eq!(parse_signature(POST_SIGNATURE), Some(mac));
    }

    #[test]
    fn published_vector_get_with_empty_body() {
        let canonical =
            canonical_request("GET", GET_PATH, TERMINAL_ID, TIMESTAMP_MS, GET_NONCE, b"");
        let expected = format!(
            "forecourt-terminal/v1\nGET\n{GET_PATH}\n{TERMINAL_ID}\n1795392123456\n\
             {GET_NONCE}\n{EMPTY_SHA256}"
        );
        assert_eq!(String::from_utf8(canonical.clone()).unwrap(), expected);
        assert_eq!(signature_hex(&sign(&secret(), &canonical)), GET_SIGNATURE);
    }

    #[test]
    fn every_vector_value_appears_in_the_document() {
        for value in [
            SECRET,
            TERMINAL_ID,
            "1795392123456",
            POST_PATH,
            POST_NONCE,
            POST_BODY,
            POST_BODY_SHA256,
            POST_SIGNATURE,
            GET_PATH,
            GET_NONCE,
            EMPTY_SHA256,
            GET_SIGNATURE,
            TERMINAL_ID_HEADER,
            TIMESTAMP_HEADER,
            NONCE_HEADER,
            SIGNATURE_HEADER,
            SCHEME,
        ] {
            assert!(DOC.contains(value), "{value} is missing from docs/TERMINAL-API.md");
        }
        assert!(DOC.contains("±5 min") && DOC.contains("300000"));
    }

    #[test]
    fn method_is_uppercased_and_nothing_else_is_normalised() {
        let canonical = post_canonical();
        let lower = canonical_request(
            "post",
            POST_PATH,
            TERMINAL_ID,
            TIMESTAMP_MS,
            POST_NONCE,
            POST_BODY.as_bytes(),
        );
        assert_eq!(lower, canonical);
        let body = POST_BODY.as_bytes();
        let others = [
            canonical_request("PUT", POST_PATH, TERMINAL_ID, TIMESTAMP_MS, POST_NONCE, body),
            canonical_request(
                "POST",
                "/v1/terminal/authorizations?mode=offline",
                TERMINAL_ID,
                TIMESTAMP_MS,
                POST_NONCE,
                body,
            ),
            canonical_request(
                "POST",
                "/v1/terminal/authorizations",
                TERMINAL_ID,
                TIMESTAMP_MS,
                POST_NONCE,
                body,
            ),
            canonical_request(
                "POST",
                "/V1/terminal/authorizations?mode=online",
                TERMINAL_ID,
                TIMESTAMP_MS,
                POST_NONCE,
                body,
            ),
            canonical_request(
                "POST",
                POST_PATH,
                "01937c4e-8f3a-7b2c-9d4e-5f6a7b8c9d0f",
                TIMESTAMP_MS,
                POST_NONCE,
                body,
            ),
            canonical_request(
                "POST",
                POST_PATH,
                &TERMINAL_ID.to_uppercase(),
                TIMESTAMP_MS,
                POST_NONCE,
                body,
            ),
            canonical_request("POST", POST_PATH, TERMINAL_ID, TIMESTAMP_MS + 1, POST_NONCE, body),
            canonical_request(
                "POST",
                POST_PATH,
                TERMINAL_ID,
                TIMESTAMP_MS,
                "q7YbW2mX-9kRz_4HtP1sLd",
                body,
            ),
            canonical_request("POST", POST_PATH, TERMINAL_ID, TIMESTAMP_MS, POST_NONCE, b""),
            canonical_request(
                "POST",
                POST_PATH,
                TERMINAL_ID,
                TIMESTAMP_MS,
                POST_NONCE,
                &[body, b" "].concat(),
            ),
        ];
        let mac = sign(&secret(), &canonical);
        for other in &others {
            assert_ne!(other, &canonical);
            assert!(!verify(&secret(), other, &mac), "{}", String::from_utf8_lossy(other));
        }
    }

    #[test]
    fn verify_refuses_any_changed_bit_and_another_secret() {
        let canonical = post_canonical();
        let mac = sign(&secret(), &canonical);
        for i in 0..MAC_LEN {
            for bit in 0..8 {
                let mut bad = mac;
                bad[i] ^= 1 << bit;
                assert!(!verify(&secret(), &canonical, &bad));
            }
        }
        let mut other = secret();
        other[31] ^= 1;
        assert!(!verify(&other, &canonical, &mac));
        assert!(!verify(&secret(), &canonical, &[0u8; MAC_LEN]));
    }

    #[test]
    fn freshness_window_is_five_minutes_either_way_bounds_included() {
        let now = TIMESTAMP_MS;
        assert!(fresh(now, now));
        assert!(fresh(now, now - MAX_CLOCK_SKEW_MS));
        assert!(fresh(now, now + MAX_CLOCK_SKEW_MS));
        assert!(!fresh(now, now - MAX_CLOCK_SKEW_MS - 1));
        assert!(!fresh(now, now + MAX_CLOCK_SKEW_MS + 1));
        assert!(!fresh(now, 0));
        assert!(!fresh(now, -1));
        assert!(!fresh(i64::MAX, i64::MIN));
        assert!(!fresh(i64::MIN, i64::MAX));
        assert!(fresh(i64::MAX, i64::MAX - MAX_CLOCK_SKEW_MS));
    }

    #[test]
    fn nonce_rules() {
        for good in [
            "0123456789abcdef",
            "q7YbW2mX-9kRz_4HtP1sLc",
            "________________",
            "----------------",
            &"A".repeat(64),
        ] {
            assert!(valid_nonce(good), "{good}");
        }
        for bad in [
            "",
            "0123456789abcde",
            &"A".repeat(65),
            "0123456789abcde ",
            "0123456789abcde\n",
            "0123456789abcde=",
            "0123456789abcde+",
            "0123456789abcde/",
            "0123456789abcde.",
            "0123456789abcdé",
            "0123456789abcd\u{0}f",
        ] {
            assert!(!valid_nonce(bad), "{bad:?}");
        }
        let a = random_nonce();
        assert!(valid_nonce(&a) && a.len() == 22, "{a}");
        assert_ne!(a, random_nonce());
    }

    #[test]
    fn timestamp_header_is_plain_decimal_digits() {
        assert_eq!(parse_timestamp("1795392123456"), Some(TIMESTAMP_MS));
        assert_eq!(parse_timestamp("0"), Some(0));
        assert_eq!(parse_timestamp("999999999999999"), Some(999_999_999_999_999));
        for bad in
            ["", "-1", "+1795392123456", " 1795392123456", "1795392123456 ", "1e12", "0x10", "١"]
        {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
        assert_eq!(parse_timestamp("1000000000000000"), None, "16 digits");
        assert_eq!(parse_timestamp(&"9".repeat(40)), None);
    }

    #[test]
    fn signature_header_is_exactly_64_hex_digits() {
        let mac = parse_signature(POST_SIGNATURE).unwrap();
        assert_eq!(parse_signature(&POST_SIGNATURE.to_uppercase()), Some(mac));
        assert_eq!(signature_hex(&mac), POST_SIGNATURE);
        for bad in [
            "",
            &POST_SIGNATURE[..62],
            &format!("{POST_SIGNATURE}00"),
            &format!("{}zz", &POST_SIGNATURE[..62]),
            &format!(" {}", &POST_SIGNATURE[..63]),
            &format!("{}é", &POST_SIGNATURE[..62]),
        ] {
            assert_eq!(parse_signature(bad), None, "{bad:?}");
        }
    }
}
