//! The commands that talk to the server: login, sync, enrol, cards, provision, replenish.

use std::path::Path;

use mobile_sdk::secret::SecretText;
use mobile_sdk::store::Session;
use mobile_sdk::{
    ClockSample, FileStore, SecureStore, SignedTime, SystemDeviceClock, TokenSummary, Wallet,
};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::api::{Api, ApiError, Body};
use crate::CliResult;

pub type CliWallet = Wallet<FileStore, SystemDeviceClock>;

/// The server and the wallet a command works with.
pub struct Context {
    pub api: Api,
    pub wallet: CliWallet,
}

/// Bodies with borrowed fields, so a password or refresh token is not copied into a
/// JSON value that nobody wipes.
#[derive(Serialize)]
struct Login<'a> {
    email: &'a str,
    password: &'a str,
}

#[derive(Serialize)]
struct Refresh<'a> {
    refresh_token: &'a str,
}

#[derive(Deserialize)]
struct TokenPair {
    access_token: String,
    refresh_token: String,
}

impl Context {
    pub fn open(server: &str, wallet: &Path, token: Option<&str>) -> CliResult<Context> {
        let mut wallet = Wallet::new(FileStore::open(wallet)?, SystemDeviceClock::new());
        if let Some(token) = token {
            wallet.select_token(token)?;
        }
        Ok(Context { api: Api::new(server), wallet })
    }

    /// A request with the stored session; one refresh and retry if the access token
    /// expired.
    async fn authed<B: Serialize + ?Sized>(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> CliResult<Body> {
        let session = self.wallet.store().session().cloned().ok_or("not logged in: run `login`")?;
        let bearer = Some(session.access_token.expose());
        match self.api.call(method.clone(), path, bearer, body).await {
            Err(e) if is_status(&*e, StatusCode::UNAUTHORIZED) => {
                let fresh = self.refresh(&session).await?;
                self.api.call(method, path, Some(fresh.access_token.expose()), body).await
            }
            other => other,
        }
    }

    async fn refresh(&mut self, old: &Session) -> CliResult<Session> {
        let body = Refresh { refresh_token: old.refresh_token.expose() };
        let answer = self
            .api
            .call(Method::POST, "/v1/auth/refresh", None, Some(&body))
            .await
            .map_err(|_| "the session expired: run `login` again")?;
        self.keep_session(&answer)
    }

    fn keep_session(&mut self, answer: &[u8]) -> CliResult<Session> {
        let pair: TokenPair =
            serde_json::from_slice(answer).map_err(|_| "malformed login answer")?;
        let session = Session {
            access_token: SecretText::new(pair.access_token),
            refresh_token: SecretText::new(pair.refresh_token),
        };
        self.wallet.store_mut().set_session(Some(session.clone()))?;
        Ok(session)
    }

    pub async fn login(&mut self, email: &str, password: &str) -> CliResult {
        let body = Login { email, password };
        let answer = self.api.call(Method::POST, "/v1/auth/login", None, Some(&body)).await?;
        self.keep_session(&answer)?;
        println!("logged in as {email}");
        Ok(())
    }

    /// `GET /v1/time` with a fresh nonce, timed on both device clocks.
    pub async fn sync(&mut self) -> CliResult {
        let nonce = self.wallet.time_nonce()?;
        let sent = ClockSample::take(self.wallet.clock());
        let path = format!("/v1/time?nonce={nonce}");
        let answer = self.api.call::<()>(Method::GET, &path, None, None).await?;
        let received = ClockSample::take(self.wallet.clock());
        let signed: SignedTime =
            serde_json::from_slice(&answer).map_err(|_| "malformed time answer")?;
        self.wallet.sync(sent, received, &signed)?;
        Ok(())
    }

    /// Syncs unless the clock is already good for payments.
    pub async fn ensure_synced(&mut self) -> CliResult {
        if self.wallet.now_ms().is_err() {
            self.sync().await?;
        }
        Ok(())
    }

    pub async fn sync_and_report(&mut self) -> CliResult {
        self.sync().await?;
        let clock = self.wallet.clock_sync();
        let offset = clock.offset_ms().unwrap_or_default();
        let key = self.wallet.store().pinned_time_key()?.unwrap_or_default();
        println!("clock synced: server is {offset:+} ms from this device's clock");
        println!("round trip {} ms", clock.round_trip_ms().unwrap_or_default());
        println!("time key pinned: {}…", hex::encode(key.get(..9).unwrap_or_default()));
        Ok(())
    }

    pub async fn enrol(&mut self, label: &str) -> CliResult {
        if let Some(id) = self.wallet.device_id()? {
            return Err(format!("this wallet is already enrolled as device {id}").into());
        }
        let answer = self.authed(Method::POST, "/v1/devices/challenge", Some(&json!({}))).await?;
        let challenge = string_field(&answer, "challenge")?;
        let request = self.wallet.enrol_request(&challenge, label)?;
        let answer = self.authed(Method::POST, "/v1/devices", Some(&request)).await?;
        let id = string_field(&answer, "id")?;
        self.wallet.set_device_id(&id)?;
        println!("enrolled device {id} ({label})");
        Ok(())
    }

    pub async fn cards(&mut self) -> CliResult {
        let answer = self.authed::<()>(Method::GET, "/v1/cards", None).await?;
        let cards: Vec<Value> = serde_json::from_slice(&answer).map_err(|_| "malformed cards")?;
        let tokens = self.wallet.tokens()?;
        if cards.is_empty() {
            println!("no cards");
        }
        for card in &cards {
            let id = card["id"].as_str().unwrap_or_default();
            let held = tokens.iter().find(|t| t.card_id == id).map(describe);
            println!(
                "{id}  •••• {}  {:<9}  token on this phone: {}",
                card["pan_last4"].as_str().unwrap_or("????"),
                card["status"].as_str().unwrap_or("?"),
                held.as_deref().unwrap_or("no"),
            );
        }
        Ok(())
    }

    pub async fn provision(&mut self, card: &str) -> CliResult {
        let device_id = self.wallet.device_id()?.ok_or("enrol this phone first (`enrol`)")?;
        let path = format!("/v1/cards/{card}/tokens");
        let answer =
            self.authed(Method::POST, &path, Some(&json!({ "device_id": device_id }))).await?;
        let text = std::str::from_utf8(&answer).map_err(|_| "malformed provisioning answer")?;
        let summary = self.wallet.accept_provisioning(text)?;
        println!("provisioned for card {card}: {}", describe(&summary));
        Ok(())
    }

    pub async fn replenish(&mut self) -> CliResult {
        let summary = self.replenish_quietly().await?;
        println!("replenished: {}", describe(&summary));
        Ok(())
    }

    async fn replenish_quietly(&mut self) -> CliResult<TokenSummary> {
        self.ensure_synced().await?;
        let now = self.wallet.now_ms()?;
        let request = self.wallet.replenish_request(now)?;
        let path = format!("/v1/tokens/{}/replenish", request.token_id);
        let answer = self.authed(Method::POST, &path, Some(&request)).await?;
        let text = std::str::from_utf8(&answer).map_err(|_| "malformed replenishment answer")?;
        Ok(self.wallet.accept_replenishment(text)?)
    }

    /// Replenishes if few payments are left; a failure is reported, not fatal (the keys
    /// left may still pay). Reports go to stderr: stdout may carry a payload.
    pub async fn replenish_if_low(&mut self) {
        if self.wallet.needs_replenish() {
            match self.replenish_quietly().await {
                Ok(summary) => eprintln!("replenished: {}", describe(&summary)),
                Err(e) => eprintln!("could not replenish: {e}"),
            }
        }
    }

    pub fn status(&self) -> CliResult {
        let device = self.wallet.device_id()?;
        println!("wallet file: {}", self.wallet.store().path().display());
        println!("device: {}", device.as_deref().unwrap_or("not enrolled"));
        println!("logged in: {}", self.wallet.store().session().is_some());
        for token in self.wallet.tokens()? {
            println!("card {}: {}", token.card_id, describe(&token));
        }
        Ok(())
    }
}

/// `token …1234 (id), ATC 7, 3 keys / 10 payments left`.
fn describe(token: &TokenSummary) -> String {
    format!(
        "token …{} ({}), ATC {}, {} keys / {} payments left",
        token.last4, token.token_id, token.atc, token.usable_keys, token.uses_left
    )
}

fn string_field(body: &[u8], name: &str) -> CliResult<String> {
    let value: Value = serde_json::from_slice(body).map_err(|_| "malformed answer")?;
    value[name].as_str().map(str::to_owned).ok_or_else(|| format!("answer has no {name}").into())
}

fn is_status(e: &(dyn std::error::Error + 'static), status: StatusCode) -> bool {
    e.downcast_ref::<ApiError>().is_some_and(|a| a.status == status)
}
