//! Making payment data: one cryptogram per presentation, from the server-synchronised
//! clock, with a fresh ATC that is persisted before the cryptogram exists.

use std::ops::{Deref, DerefMut};

use emv::cryptogram::{self, CryptogramInput, EntryMode, TerminalData, IAD_LEN};
use emv::qr::{ChipData, CpmPayload, TokenData};
use rand::rngs::OsRng;
use rand::RngCore;
use zeroize::{Zeroize, Zeroizing};

use super::{Wallet, WalletError};
use crate::clock::DeviceClock;
use crate::countdown::{PaymentWindow, NFC_VALIDITY_MS, QR_VALIDITY_MS};
use crate::secret::{SecretBytes, TokenPan};
use crate::store::SecureStore;

/// The Forecourt application's AID: RID `A000000999` (a test RID, not registered with
/// ISO) and PIX `0101` (fuel card, version 1). In the QR payload (`4F`) and selected over
/// NFC.
pub const FORECOURT_AID: &[u8] = &[0xA0, 0x00, 0x00, 0x09, 0x99, 0x01, 0x01];
/// Application label (`50`).
pub const FORECOURT_LABEL: &str = "FORECOURT";

/// One piece of payment data. `Debug` shows the PAN's last four digits and no cryptogram.
#[derive(Debug)]
pub struct GeneratedPayment {
    pub token_pan: TokenPan,
    pub atc: u16,
    pub cryptogram: SecretBytes<8>,
    pub iad: [u8; IAD_LEN],
    pub card_unpredictable_number: [u8; 4],
    /// How long the data stays valid: the countdown.
    pub window: PaymentWindow,
}

/// A cryptogram input whose copy of the token PAN is wiped when it goes.
struct Input(CryptogramInput);

impl Drop for Input {
    fn drop(&mut self) {
        self.0.token_pan.zeroize();
    }
}

impl Deref for Input {
    type Target = CryptogramInput;
    fn deref(&self) -> &CryptogramInput {
        &self.0
    }
}

impl DerefMut for Input {
    fn deref_mut(&mut self) -> &mut CryptogramInput {
        &mut self.0
    }
}

impl<S: SecureStore, C: DeviceClock> Wallet<S, C> {
    /// QR payment data (EMV CPM, base64) and its validity window (120 s). `cdcvm`: the app
    /// verified the driver (biometrics or passcode) just before.
    ///
    /// Refused, spending nothing, when the clock cannot be trusted
    /// ([`WalletError::Clock`]) or no key has uses left ([`WalletError::NeedsReplenish`]).
    /// The text holds the token PAN and the cryptogram: it is wiped when dropped.
    pub fn qr_payload(
        &mut self,
        cdcvm: bool,
    ) -> Result<(Zeroizing<String>, PaymentWindow), WalletError> {
        let payment = self.generate(None, cdcvm)?;
        let mut payload = CpmPayload {
            aid: FORECOURT_AID.to_vec(),
            label: Some(FORECOURT_LABEL.to_owned()),
            token: TokenData::Pan(payment.token_pan.expose().to_owned()),
            chip: ChipData {
                cryptogram: *payment.cryptogram.expose(),
                atc: payment.atc,
                iad: payment.iad.to_vec(),
                unpredictable_number: payment.card_unpredictable_number,
            },
            unknown: vec![],
        };
        let text = emv::qr::try_encode(&payload).map(Zeroizing::new);
        if let TokenData::Pan(pan) = &mut payload.token {
            pan.zeroize();
        }
        payload.chip.cryptogram.zeroize();
        Ok((text.map_err(|_| WalletError::Encoding("qr"))?, payment.window))
    }

    /// Payment data for QR (`terminal` = `None`) or NFC (the terminal's PDOL data).
    pub(crate) fn generate(
        &mut self,
        terminal: Option<TerminalData>,
        cdcvm: bool,
    ) -> Result<GeneratedPayment, WalletError> {
        let now = self.now_ms()?;
        let sync_age_s =
            u32::try_from(self.sync.sync_age_ms(&self.clock)? / 1_000).unwrap_or(u32::MAX);
        let token = self.active_token()?;
        let luk = token.usable_luk(now).ok_or(WalletError::NeedsReplenish)?;
        let key = luk.luk.clone().ok_or(WalletError::NeedsReplenish)?;
        let (entry_mode, validity_ms) = match terminal {
            None => (EntryMode::Qr, QR_VALIDITY_MS),
            Some(_) => (EntryMode::Nfc, NFC_VALIDITY_MS),
        };
        let mut input = Input(CryptogramInput {
            entry_mode,
            token_pan: token.token_pan.expose().to_owned(),
            key_index: luk.key_index,
            atc: 0,
            generated_at_ms: now,
            sync_age_s,
            cdcvm,
            terminal,
            card_unpredictable_number: random_un()?,
        });
        // Checked before an ATC is spent: input the encoder refuses must not burn one.
        input.to_bytes().map_err(|_| WalletError::Encoding("cryptogram input"))?;
        input.atc = self.store.claim_atc(&token.id, luk.key_index)?;
        let bytes = Zeroizing::new(
            input.to_bytes().map_err(|_| WalletError::Encoding("cryptogram input"))?,
        );
        let mac = Zeroizing::new(cryptogram::compute(key.expose(), &bytes));
        Ok(GeneratedPayment {
            token_pan: token.token_pan.clone(),
            atc: input.atc,
            cryptogram: SecretBytes::new(mac),
            iad: input.iad(token.imk_version).to_bytes(),
            card_unpredictable_number: input.card_unpredictable_number,
            window: PaymentWindow::new(now, validity_ms),
        })
    }
}

fn random_un() -> Result<[u8; 4], WalletError> {
    let mut un = [0u8; 4];
    OsRng.try_fill_bytes(&mut un).map_err(|_| WalletError::Random)?;
    Ok(un)
}
