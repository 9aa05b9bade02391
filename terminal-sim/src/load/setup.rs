//! Setting the benchmark up through the API, a bounded number of requests at once: fleets
//! (the operator creates the org, the owner accepts the invite), drivers and cards (the
//! owner invites, the driver accepts, the owner issues), phones (enrolment and token
//! provisioning with the driver's one session), and the fleet accounts' funding.
//!
//! Activating a user costs the server two argon2id computations (accept-invite, login),
//! deliberately slow and capped at a few at once; `cards_per_driver` lets one driver hold
//! several cards, each on a phone of its own (one token per card and phone, its own ATCs
//! and limits), so thousands of tokens do not need thousands of logins.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::json;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::phone::Phone;
use crate::client::UserClient;
use crate::Result;

/// Where the paying drivers come from.
#[derive(Debug, Clone)]
pub enum Drivers {
    /// Log in as these existing drivers (the demo drivers by default), phones in turn.
    Existing { emails: Vec<String>, password: String },
    /// This owner (email, password) creates the drivers and cards in their own org.
    Owner { email: String, password: String },
    /// The operator creates this many fleets, each with its owner, drivers and cards.
    Fleets(usize),
}

/// What the setup needs to know.
#[derive(Debug, Clone)]
pub struct SetupOptions {
    pub drivers: Drivers,
    /// Phones per fleet with [`Drivers::Fleets`], in all otherwise.
    pub wallets: usize,
    pub cards_per_driver: usize,
    /// Operator (email, password), for fleets and funding.
    pub operator: (String, String),
    /// Credit every fleet account with this much.
    pub fund: Option<i64>,
    /// Restrict created cards (or fleets) to this one product, so a fill offering another
    /// is declined `PRODUCT_NOT_ALLOWED`.
    pub restrict_to: Option<String>,
    /// Requests (setup jobs) at once.
    pub concurrency: usize,
}

/// The phones, ready to pay.
pub struct Ready {
    pub phones: Vec<Phone>,
    pub fleets: usize,
    pub drivers: usize,
}

/// Runs the jobs with at most `limit` at once; the results in the jobs' order, or the
/// first error (the jobs still running are aborted).
pub async fn bounded<T, F>(limit: usize, jobs: Vec<F>) -> Result<Vec<T>>
where
    F: Future<Output = Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let permits = Arc::new(Semaphore::new(limit.max(1)));
    let mut set = JoinSet::new();
    let count = jobs.len();
    for (i, job) in jobs.into_iter().enumerate() {
        let permits = permits.clone();
        set.spawn(async move {
            let _permit = permits.acquire_owned().await;
            (i, job.await)
        });
    }
    let mut out: Vec<Option<T>> = (0..count).map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        let (i, result) = joined.map_err(|e| format!("setup task failed: {e}"))?;
        out[i] = Some(result?);
    }
    Ok(out.into_iter().flatten().collect())
}

fn random_password() -> String {
    format!("load-{}", hex::encode(rand::random::<[u8; 12]>()))
}

fn text(value: &serde_json::Value, what: &str) -> Result<String> {
    Ok(value.as_str().ok_or_else(|| format!("answer without {what}"))?.to_owned())
}

/// An org able to receive drivers: its id and the owner's session.
struct Fleet {
    org_id: String,
    owner: UserClient,
    email_domain: String,
}

/// How many cards each of the drivers holds so that together they hold `wallets`.
pub fn cards_per_driver(wallets: usize, per_driver: usize) -> Vec<usize> {
    let per_driver = per_driver.max(1);
    let mut out = vec![per_driver; wallets / per_driver];
    if wallets % per_driver > 0 {
        out.push(wallets % per_driver);
    }
    out
}

pub async fn run(server: &str, opts: &SetupOptions) -> Result<Ready> {
    let http = reqwest::Client::new();
    let run = hex::encode(rand::random::<[u8; 4]>());
    let (phones, orgs, drivers, fleets) = match &opts.drivers {
        Drivers::Existing { emails, password } => {
            let mut logins = Vec::new();
            for email in emails {
                logins.push(UserClient::login_with(http.clone(), server, email, password).await?);
            }
            let jobs = (0..opts.wallets)
                .map(|i| {
                    let driver = logins[i % logins.len()].clone();
                    let email = emails[i % emails.len()].clone();
                    async move {
                        Phone::enrol_and_provision(driver, i, None)
                            .await
                            .map_err(|e| format!("phone {i} of {email}: {e}").into())
                    }
                })
                .collect();
            let phones = bounded(opts.concurrency, jobs).await?;
            let mut orgs: Vec<String> = Vec::new();
            if opts.fund.is_some() {
                for driver in &logins {
                    let me = driver.get("/v1/me").await?.ok("reading the driver's profile")?;
                    let org = text(&me["org_id"], "the driver's org")?;
                    if !orgs.contains(&org) {
                        orgs.push(org);
                    }
                }
            }
            (phones, orgs, logins.len(), 0)
        }
        Drivers::Owner { email, password } => {
            let owner = UserClient::login_with(http.clone(), server, email, password).await?;
            let me = owner.get("/v1/me").await?.ok("reading the owner's profile")?;
            let org_id = text(&me["org_id"], "the owner's org")?;
            let email_domain = email.rsplit_once('@').map_or("example.com", |(_, d)| d).to_owned();
            // Restricting the whole org would change the fills of every other card in it.
            let fleet = Fleet { org_id: org_id.clone(), owner, email_domain };
            let (phones, drivers) =
                create_drivers(server, &http, &run, &[fleet], opts, true).await?;
            (phones, vec![org_id], drivers, 0)
        }
        Drivers::Fleets(count) => {
            let (email, password) = &opts.operator;
            let operator = UserClient::login_with(http.clone(), server, email, password).await?;
            let jobs = (0..*count)
                .map(|f| {
                    let (operator, http, server) =
                        (operator.clone(), http.clone(), server.to_owned());
                    let (run, restrict) = (run.clone(), opts.restrict_to.clone());
                    async move { create_fleet(&operator, http, &server, &run, f, restrict).await }
                })
                .collect();
            let fleets = bounded(opts.concurrency, jobs).await?;
            eprintln!("created {count} fleets");
            let orgs = fleets.iter().map(|f| f.org_id.clone()).collect();
            let (phones, drivers) =
                create_drivers(server, &http, &run, &fleets, opts, false).await?;
            (phones, orgs, drivers, *count)
        }
    };
    if let Some(amount) = opts.fund {
        let (email, password) = &opts.operator;
        let operator = UserClient::login_with(http.clone(), server, email, password).await?;
        for org in &orgs {
            operator
                .post(&format!("/v1/orgs/{org}/account/credits"), &json!({"amount": amount}))
                .await?
                .ok("crediting the fleet account")?;
        }
        eprintln!("credited {amount} to {} fleet account(s)", orgs.len());
    }
    Ok(Ready { phones, fleets, drivers })
}

/// The operator creates fleet `f`; its owner sets a password, logs in and, when declines
/// are wanted, restricts the fleet to one product.
async fn create_fleet(
    operator: &UserClient,
    http: reqwest::Client,
    server: &str,
    run: &str,
    f: usize,
    restrict_to: Option<String>,
) -> Result<Fleet> {
    let email_domain = format!("fleet-{f}.load-{run}.example");
    let email = format!("owner@{email_domain}");
    let body = json!({
        "name": format!("Load fleet {run}-{f}"), "currency": "EUR", "time_zone": "Europe/Berlin",
        "owner": {"email": email, "name": format!("Load owner {f}")},
    });
    let created = operator.post("/v1/orgs", &body).await?.ok("creating a fleet")?;
    let org_id = text(&created["org"]["id"], "the org id")?;
    let invite = text(&created["owner"]["invite_token"], "the owner's invite")?;
    let password = random_password();
    operator
        .post_public(
            "/v1/auth/accept-invite",
            &json!({"invite_token": invite, "password": password}),
        )
        .await?
        .ok("accepting the owner's invite")?;
    let owner = UserClient::login_with(http, server, &email, &password).await?;
    if let Some(product) = restrict_to {
        owner
            .put(&format!("/v1/orgs/{org_id}/controls"), &json!({"allowed_products": [product]}))
            .await?
            .ok("restricting the fleet's products")?;
    }
    Ok(Fleet { org_id, owner, email_domain })
}

/// Creates `opts.wallets` phones in each fleet: drivers holding `cards_per_driver` cards,
/// each card on a phone of its own. `per_card` restricts each card (not the org) when
/// `restrict_to` is set. Returns the phones and the number of drivers.
async fn create_drivers(
    server: &str,
    http: &reqwest::Client,
    run: &str,
    fleets: &[Fleet],
    opts: &SetupOptions,
    per_card: bool,
) -> Result<(Vec<Phone>, usize)> {
    let split = cards_per_driver(opts.wallets, opts.cards_per_driver);
    let total = fleets.len() * opts.wallets;
    let made = Arc::new(AtomicUsize::new(0));
    let mut jobs = Vec::new();
    for (f, fleet) in fleets.iter().enumerate() {
        for (d, &cards) in split.iter().enumerate() {
            let owner = fleet.owner.clone();
            let (http, server, made) = (http.clone(), server.to_owned(), made.clone());
            let email = format!("load-{run}-{f}-{d}@{}", fleet.email_domain);
            let restrict = if per_card { opts.restrict_to.clone() } else { None };
            jobs.push(async move {
                let phones =
                    create_driver(&owner, http, &server, &email, cards, restrict.as_deref())
                        .await
                        .map_err(|e| format!("driver {d} of fleet {f}: {e}"))?;
                let now = made.fetch_add(phones.len(), Ordering::Relaxed) + phones.len();
                if now * 10 / total.max(1) > (now - phones.len()) * 10 / total.max(1) {
                    eprintln!("setup: {now}/{total} phones");
                }
                Ok(phones)
            });
        }
    }
    let drivers = jobs.len();
    let phones: Vec<Phone> = bounded(opts.concurrency, jobs).await?.into_iter().flatten().collect();
    if opts.cards_per_driver <= 1 {
        eprintln!("created {drivers} drivers with a card each");
    } else {
        eprintln!("created {drivers} drivers holding {} cards in all", phones.len());
    }
    Ok((phones, drivers))
}

/// The owner invites a driver and issues `cards` cards bound to them; the driver sets a
/// password, logs in once and enrols one phone per card, each holding that card's token.
async fn create_driver(
    owner: &UserClient,
    http: reqwest::Client,
    server: &str,
    email: &str,
    cards: usize,
    restrict_to: Option<&str>,
) -> Result<Vec<Phone>> {
    let password = random_password();
    let body = json!({"email": email, "name": "Load driver", "role": "driver"});
    let invited = owner.post("/v1/users", &body).await?.ok("creating a driver")?;
    let driver_id = text(&invited["user"]["id"], "the user id")?;
    let invite = text(&invited["invite_token"], "the invite")?;
    owner
        .post_public(
            "/v1/auth/accept-invite",
            &json!({"invite_token": invite, "password": password}),
        )
        .await?
        .ok("accepting the invite")?;
    let mut card_ids = Vec::with_capacity(cards);
    for _ in 0..cards {
        let card = owner.post("/v1/cards", &json!({"driver_id": driver_id})).await?;
        let id = text(&card.ok("issuing a card")?["id"], "the card id")?;
        if let Some(product) = restrict_to {
            owner
                .put(&format!("/v1/cards/{id}/controls"), &json!({"allowed_products": [product]}))
                .await?
                .ok("restricting the card's products")?;
        }
        card_ids.push(id);
    }
    let driver = UserClient::login_with(http, server, email, &password).await?;
    let mut phones = Vec::with_capacity(cards);
    for (i, card) in card_ids.iter().enumerate() {
        phones.push(Phone::enrol_and_provision(driver.clone(), i, Some(card)).await?);
    }
    Ok(phones)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cards_are_split_over_drivers() {
        assert_eq!(cards_per_driver(5, 1), [1, 1, 1, 1, 1]);
        assert_eq!(cards_per_driver(10, 4), [4, 4, 2]);
        assert_eq!(cards_per_driver(8, 4), [4, 4]);
        assert_eq!(cards_per_driver(3, 0), [1, 1, 1], "0 means 1");
        assert!(cards_per_driver(0, 3).is_empty());
    }

    #[tokio::test]
    async fn bounded_keeps_order_and_the_limit() {
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let jobs = (0..40usize)
            .map(|i| {
                let (running, peak) = (running.clone(), peak.clone());
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    Ok(i * 2)
                }
            })
            .collect();
        let out = bounded(3, jobs).await.unwrap();
        assert_eq!(out, (0..40).map(|i| i * 2).collect::<Vec<_>>());
        assert!(peak.load(Ordering::SeqCst) <= 3);
        let failing: Vec<_> = (0..3)
            .map(|i| async move {
                if i == 1 {
                    Err("no".into())
                } else {
                    Ok(i)
                }
            })
            .collect();
        assert!(bounded(2, failing).await.is_err());
    }
}
