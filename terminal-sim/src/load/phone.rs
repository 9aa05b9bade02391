//! A phone for the load benchmark, in process: a P-256 device key, enrolment, a token with
//! its LUK batch opened by `emv::luk_batch`, payment data made exactly as
//! docs/CRYPTOGRAM.md says — QR (`emv::cryptogram`, `emv::qr`) or the GET PROCESSING
//! OPTIONS answer of an NFC tap over the terminal's PDOL data (`emv::gpo`) — and signed
//! replenishment.
//!
//! The clock offset comes from `GET /v1/time` (midpoint of send and receive). Unlike the
//! real wallet this phone does not verify the time signature: it benchmarks a server it
//! was pointed at, it does not defend against one.

use std::time::Instant;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use emv::cryptogram::{self, CryptogramInput, EntryMode, TerminalData};
use emv::gpo::{self, ProcessingOptions};
use emv::luk_batch::{self, EncryptedBatch, LukEntry};
use emv::qr::{ChipData, CpmPayload, TokenData};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{json, Value};

use crate::client::{now_ms, UserClient};
use crate::Result;

/// The Forecourt application (`mobile-sdk` README).
pub const AID: [u8; 7] = [0xA0, 0x00, 0x00, 0x09, 0x99, 0x01, 0x01];
pub const LABEL: &str = "FORECOURT";
/// Domain of the enrolment signature.
const ENROL_DOMAIN: &[u8] = b"forecourt/enrol/v1";
/// Domain of the replenishment signature.
const REPLENISH_DOMAIN: &[u8] = b"forecourt/replenish/v1";
/// A LUK this close to its expiry is not used.
const EXPIRY_MARGIN_S: u64 = 60;
/// The wallet's low-water mark (`mobile_sdk::wallet::REPLENISH_BELOW_USES`): the fewest
/// payments left at which a phone replenishes.
const REPLENISH_BELOW_USES: u32 = 4;

struct Key {
    entry: LukEntry,
    used: u16,
}

/// One cryptogram's output, before it is put into a QR payload or a GPO answer.
struct Generated {
    cryptogram: [u8; cryptogram::CRYPTOGRAM_LEN],
    iad: Vec<u8>,
    card_unpredictable_number: [u8; 4],
}

/// One enrolled phone holding one token.
pub struct Phone {
    driver: UserClient,
    secret: p256::SecretKey,
    public_sec1: Vec<u8>,
    token_id: String,
    token_pan: String,
    imk_version: u8,
    keys: Vec<Key>,
    atc: u16,
    offset_ms: i64,
    synced_at: Instant,
    /// Key indexes with their use counts, for every key this phone ever held.
    history: Vec<([u8; 6], u16)>,
    /// Replenishments since provisioning.
    pub replenishments: u64,
    /// This phone replenishes once it has fewer payments left than this
    /// ([`low_water_mark`]).
    replenish_below_uses: u32,
}

impl Phone {
    /// Syncs the clock, enrols a new device key (labelled "load phone `index`") for the
    /// logged-in driver and provisions a token for `card` (the driver's first active card
    /// when `None`).
    pub async fn enrol_and_provision(
        driver: UserClient,
        index: usize,
        card: Option<&str>,
    ) -> Result<Phone> {
        let label = format!("load phone {index}");
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let public_sec1 = secret.public_key().to_sec1_bytes().to_vec();
        let mut phone = Phone {
            driver,
            secret,
            public_sec1,
            token_id: String::new(),
            token_pan: String::new(),
            imk_version: 0,
            keys: Vec::new(),
            atc: 0,
            offset_ms: 0,
            synced_at: Instant::now(),
            history: Vec::new(),
            replenishments: 0,
            replenish_below_uses: REPLENISH_BELOW_USES,
        };
        phone.sync().await?;
        let device_id = phone.enrol(&label).await?;
        let card = match card {
            Some(card) => card.to_owned(),
            None => {
                let cards =
                    phone.driver.get("/v1/cards?status=active").await?.ok("listing cards")?;
                cards
                    .as_array()
                    .and_then(|c| c.first())
                    .and_then(|c| c["id"].as_str())
                    .ok_or("the driver has no active card")?
                    .to_owned()
            }
        };
        let answer = phone
            .driver
            .post(&format!("/v1/cards/{card}/tokens"), &json!({"device_id": device_id}))
            .await?
            .ok("provisioning")?;
        phone.accept_batch(&answer)?;
        phone.replenish_below_uses = low_water_mark(index, phone.uses_left());
        Ok(phone)
    }

    /// Takes the clock offset from the signed time answer.
    async fn sync(&mut self) -> Result<()> {
        let nonce = B64.encode(rand::random::<[u8; 16]>());
        let sent = now_ms();
        let start = Instant::now();
        let answer = self.driver.get_public(&format!("/v1/time?nonce={nonce}")).await?;
        let round_trip = i64::try_from(start.elapsed().as_millis()).unwrap_or(0);
        let body = answer.ok("clock sync")?;
        let server_ms = body["server_time_ms"].as_i64().ok_or("time answer without time")?;
        self.offset_ms = server_ms - (sent + round_trip / 2);
        self.synced_at = Instant::now();
        Ok(())
    }

    fn server_now_ms(&self) -> i64 {
        now_ms() + self.offset_ms
    }

    fn sign(&self, message: &[u8]) -> String {
        let signature: Signature = SigningKey::from(&self.secret).sign(message);
        B64.encode(signature.to_bytes())
    }

    async fn enrol(&mut self, label: &str) -> Result<String> {
        let challenge =
            self.driver.post("/v1/devices/challenge", &json!({})).await?.ok("challenge")?;
        let text = challenge["challenge"].as_str().ok_or("no challenge")?;
        let raw = B64.decode(text).map_err(|_| "challenge is not base64url")?;
        let message = [ENROL_DOMAIN, &raw, &self.public_sec1].concat();
        let body = json!({"public_key": B64.encode(&self.public_sec1), "challenge": text,
                          "signature": self.sign(&message), "label": label});
        let device = self.driver.post("/v1/devices", &body).await?.ok("enrolment")?;
        Ok(device["id"].as_str().ok_or("device answer without id")?.to_owned())
    }

    /// Opens a provisioning or replenishment answer's batch with the device key.
    fn accept_batch(&mut self, body: &Value) -> Result<()> {
        self.token_id = body["token"]["id"].as_str().ok_or("answer without token id")?.to_owned();
        self.token_pan = body["token_pan"].as_str().ok_or("answer without token PAN")?.to_owned();
        let version = body["token"]["imk_version"].as_u64().ok_or("answer without imk_version")?;
        self.imk_version = u8::try_from(version).map_err(|_| "imk_version out of range")?;
        let batch: EncryptedBatch = serde_json::from_value(body["batch"].clone())
            .map_err(|_| "answer without a readable batch")?;
        let entries = luk_batch::open(&self.secret, &self.token_id, &batch)?;
        // As the wallet does, the new keys join the ones with uses left.
        self.keys.retain(|k| k.used < k.entry.max_uses);
        for entry in entries {
            self.history.push((entry.key_index.0, 0));
            self.keys.push(Key { entry, used: 0 });
        }
        Ok(())
    }

    /// Asks for a new batch with a report of every key's uses, signed by the device key.
    async fn replenish(&mut self) -> Result<()> {
        for key in &self.keys {
            if let Some(h) = self.history.iter_mut().find(|(k, _)| *k == key.entry.key_index.0) {
                h.1 = key.used;
            }
        }
        let mut reports: Vec<([u8; 6], u16)> =
            self.history.iter().copied().filter(|(_, used)| *used > 0).collect();
        reports.sort();
        let issued_at_ms = self.server_now_ms();
        let mut message =
            [REPLENISH_DOMAIN, self.token_id.as_bytes(), &issued_at_ms.to_be_bytes()].concat();
        for (key_index, used) in &reports {
            message.extend_from_slice(key_index);
            message.extend_from_slice(&used.to_be_bytes());
        }
        let body = json!({
            "issued_at_ms": issued_at_ms,
            "reports": reports.iter().map(|(k, u)| json!({"key_index": hex::encode(k), "used": u}))
                .collect::<Vec<_>>(),
            "signature": self.sign(&message),
        });
        let answer = self
            .driver
            .post(&format!("/v1/tokens/{}/replenish", self.token_id), &body)
            .await?
            .ok("replenishment")?;
        self.replenishments += 1;
        self.accept_batch(&answer)
    }

    /// Spends the next ATC on the key that expires first (replenishing first when no key
    /// is left) and computes the cryptogram over `terminal` (NFC) or no terminal data (QR).
    async fn generate(&mut self, terminal: Option<TerminalData>) -> Result<Generated> {
        if self.pick_key().is_none() {
            self.replenish().await?;
        }
        let index = self.pick_key().ok_or("no usable key after replenishment")?;
        self.atc = self.atc.checked_add(1).ok_or("ATC exhausted")?;
        let generated_at_ms = self.server_now_ms();
        let sync_age_s = u32::try_from(self.synced_at.elapsed().as_secs()).unwrap_or(u32::MAX);
        let key = &mut self.keys[index];
        key.used += 1;
        let input = CryptogramInput {
            entry_mode: if terminal.is_some() { EntryMode::Nfc } else { EntryMode::Qr },
            token_pan: self.token_pan.clone(),
            key_index: key.entry.key_index,
            atc: self.atc,
            generated_at_ms,
            sync_age_s,
            cdcvm: true,
            terminal,
            card_unpredictable_number: rand::random(),
        };
        let bytes = input.to_bytes()?;
        Ok(Generated {
            cryptogram: cryptogram::compute(&key.entry.luk, &bytes),
            iad: input.iad(self.imk_version).to_bytes().to_vec(),
            card_unpredictable_number: input.card_unpredictable_number,
        })
    }

    /// The next QR payload (a new ATC; the key that expires first pays first), replenishing
    /// first when no key is left.
    pub async fn next_qr(&mut self) -> Result<String> {
        let g = self.generate(None).await?;
        let payload = CpmPayload {
            aid: AID.to_vec(),
            label: Some(LABEL.into()),
            token: TokenData::Pan(self.token_pan.clone()),
            chip: ChipData {
                cryptogram: g.cryptogram,
                atc: self.atc,
                iad: g.iad,
                unpredictable_number: g.card_unpredictable_number,
            },
            unknown: Vec::new(),
        };
        Ok(emv::qr::try_encode(&payload)?)
    }

    /// A tap: the PDOL data the terminal sends for `terminal` and the phone's GET
    /// PROCESSING OPTIONS answer (template `77`) with a cryptogram over that data, both as
    /// the hex the authorization request carries: `(gpo_response, pdol_data)`.
    pub async fn tap(&mut self, terminal: TerminalData) -> Result<(String, String)> {
        let pdol = gpo::pdol_data(&terminal).ok_or("terminal values do not fit the PDOL")?;
        let g = self.generate(Some(terminal)).await?;
        let answer = ProcessingOptions {
            token_pan: self.token_pan.clone(),
            atc: self.atc,
            cryptogram: g.cryptogram,
            iad: g.iad,
            card_unpredictable_number: g.card_unpredictable_number,
        };
        let gpo = answer.encode().ok_or("the token does not fit a GPO answer")?;
        Ok((hex::encode(gpo), hex::encode(pdol)))
    }

    /// Like a real wallet, replenishes ahead of the next payment once fewer payments are
    /// left than its low-water mark, so the signed usage report and the HSM's work stay
    /// off the payment's path.
    pub async fn replenish_if_low(&mut self) -> Result<()> {
        if self.uses_left() < self.replenish_below_uses {
            self.replenish().await?;
        }
        Ok(())
    }

    /// Payments this phone can still make with the keys it holds.
    fn uses_left(&self) -> u32 {
        self.usable_keys().map(|(_, k)| u32::from(k.entry.max_uses - k.used)).sum()
    }

    /// The key that expires first among those it may still use.
    fn pick_key(&self) -> Option<usize> {
        self.usable_keys().min_by_key(|(_, k)| k.entry.expires_at_s).map(|(i, _)| i)
    }

    /// Keys with uses left that are not about to expire, with their indexes.
    fn usable_keys(&self) -> impl Iterator<Item = (usize, &Key)> {
        let now_s = u64::try_from(self.server_now_ms() / 1_000).unwrap_or(0);
        self.keys
            .iter()
            .enumerate()
            .filter(|(_, k)| k.used < k.entry.max_uses)
            .filter(move |(_, k)| k.entry.expires_at_s > now_s + EXPIRY_MARGIN_S)
    }
}

/// Phone `index`'s low-water mark, for a batch of `full` payments: spread evenly between
/// the wallet's and a full batch, because phones in the field refresh at different moments
/// (app opened, background refresh). One mark for every phone would replenish them all in
/// the same second, as the benchmark's phones pay in turn. Phone 0 keeps the wallet's.
fn low_water_mark(index: usize, full: u32) -> u32 {
    let span = u64::from(full.saturating_sub(REPLENISH_BELOW_USES).max(1));
    // Fibonacci hashing: consecutive indexes land far apart in 0..span.
    let spread =
        (u64::try_from(index).unwrap_or(0).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) % span;
    REPLENISH_BELOW_USES + u32::try_from(spread).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_water_marks_spread_over_the_batch() {
        assert_eq!(low_water_mark(0, 32), REPLENISH_BELOW_USES, "phone 0 acts as the wallet");
        let marks: Vec<u32> = (0..1_000).map(|i| low_water_mark(i, 32)).collect();
        assert!(marks.iter().all(|m| (REPLENISH_BELOW_USES..32).contains(m)), "{marks:?}");
        // Every mark is taken, none by more than twice its share.
        for mark in REPLENISH_BELOW_USES..32 {
            let n = marks.iter().filter(|m| **m == mark).count();
            assert!((1..=2 * 1_000 / 28).contains(&n), "mark {mark}: {n} phones");
        }
        assert_eq!(low_water_mark(5, 2), REPLENISH_BELOW_USES, "a tiny batch keeps the wallet's");
    }
}
