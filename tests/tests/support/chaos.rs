//! Load under faults: terminals paying with several phones while a process is killed, a
//! record of what the terminals saw, and the checks of the database afterwards.

use super::{now_ms, Api, Phone, Terminal};
use serde_json::{json, Value};
use sqlx::{Connection, Row};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Each pre-authorization asks for 10.00; a completion takes 6.00 of it.
pub const FILL: i64 = 1_000;
pub const COMPLETED: i64 = 600;
/// The card's daily limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub amount: i64,
    /// `None`: no daily count (the largest a card may set, 1,000, is reached by the long
    /// form of the crash tests, where LOOSE must not decline).
    pub count: Option<i64>,
}

/// Loose: every fill should be approved while the dependencies are up.
pub const LOOSE: Limits = Limits { amount: 5_000_000, count: None };
/// Cryptograms a phone holds: 8 LUKs × 4 uses, ATC 1..=31 (`atc / 4` names the LUK).
const ATCS_PER_PHONE: u16 = 31;
const AUTHORIZE: &str = "/v1/terminal/authorizations";
const RULES: [&str; 8] = [
    "after_rebind_or_unblock",
    "impossible_travel",
    "outside_usual_hours",
    "product_not_for_vehicle",
    "rapid_refills",
    "repeated_failures",
    "unusual_amount",
    "volume_over_tank",
];

/// A funded fleet with one limited card, terminals to pay at, and the logins to add phones.
pub struct Fleet {
    pub limits: Limits,
    pub client: reqwest::Client,
    pub anna: String,
    pub org: String,
    pub card: String,
    pub terminals: Vec<Terminal>,
}

impl Fleet {
    pub async fn setup(base: &str, terminals: usize, limits: Limits) -> Fleet {
        use reqwest::Method as M;
        let client =
            reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
        let api = Api { client: client.clone(), base: base.to_owned() };
        let operator = api.login("operator@forecourt.example").await;
        let owner = api.login("owner@demo-taxi.example").await;
        let anna = api.login("anna@demo-taxi.example").await;
        let analyst = api.login("fraud@forecourt.example").await;
        let mut registered = Vec::new();
        for _ in 0..terminals {
            registered.push(Terminal::register(&api, &operator).await);
        }
        let (_, me) = api.send(M::GET, "/v1/me", Some(&owner), None).await;
        let org = me["org_id"].as_str().expect("org").to_owned();
        let credit = json!({"amount": 10_000_000});
        let path = format!("/v1/orgs/{org}/account/credits");
        let (status, body) = api.send(M::POST, &path, Some(&operator), Some(credit)).await;
        assert_eq!(status, 200, "credit: {body}");
        let (_, cards) = api.send(M::GET, "/v1/cards", Some(&anna), None).await;
        let card = cards[0]["id"].as_str().expect("card").to_owned();
        let controls = json!({"daily": {"amount": limits.amount, "count": limits.count}});
        let path = format!("/v1/cards/{card}/controls");
        let (status, body) = api.send(M::PUT, &path, Some(&owner), Some(controls)).await;
        assert_eq!(status, 200, "controls: {body}");
        // This load is about crash safety: fraud rules only watch (rapid refills would
        // otherwise decline most of it).
        for rule in RULES {
            let path = format!("/v1/fraud/rules/{rule}?org_id={org}");
            let shadow = Some(json!({"mode": "shadow"}));
            let (status, body) = api.send(M::PUT, &path, Some(&analyst), shadow).await;
            assert_eq!(status, 200, "{rule}: {body}");
        }
        Fleet { limits, client, anna, org, card, terminals: registered }
    }

    /// A new phone (device and token) on the card, through the server at `base`.
    pub async fn phone(&self, base: &str) -> Phone {
        let api = Api { client: self.client.clone(), base: base.to_owned() };
        Phone::provisioned(&api, &self.anna, &self.card).await
    }
}

/// What the terminals saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// (authorization id, approved amount) of every approval a terminal received.
    pub approved: Vec<(String, i64)>,
    /// (authorization id, final amount) of every completion answered 200.
    pub completed: Vec<(String, i64)>,
    /// Authorizations whose reversal was answered 200.
    pub reversed: Vec<String>,
    /// Authorization answers by ISO 8583 response code.
    pub codes: BTreeMap<String, usize>,
    /// Requests that got no HTTP answer (the server died under them).
    pub lost: usize,
    /// The slowest authorization answer, and the slowest 91.
    pub slowest: Duration,
    pub slowest_91: Duration,
    /// Answers a terminal must never get (a bare 5xx, a hang past the client timeout).
    pub unexpected: Vec<String>,
}

impl Seen {
    pub fn count(&self, code: &str) -> usize {
        self.codes.get(code).copied().unwrap_or(0)
    }

    /// Authorization requests that got an answer, or none, so far.
    pub fn answered(&self) -> usize {
        self.codes.values().sum::<usize>() + self.lost + self.unexpected.len()
    }
}

/// Waits until `n` more authorization requests were answered than `from`: a fault injected
/// then lands inside the load, however fast the load runs (a fixed delay can outlast it).
pub async fn after_answers(seen: &Mutex<Seen>, from: usize, n: usize) {
    loop {
        let answered = seen.lock().expect("seen").answered();
        if answered >= from + n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// One terminal paying with one phone until `stop` or the phone runs out of cryptograms:
/// each approval is completed (or, one in five, reversed). STANs come from `stan`.
pub async fn pay(
    fleet: &Fleet,
    base: &str,
    terminal: &Terminal,
    phone: &Phone,
    stop: &AtomicBool,
    stan: &AtomicU32,
    seen: &Mutex<Seen>,
) {
    for atc in 1..=ATCS_PER_PHONE {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let n = stan.fetch_add(1, Ordering::Relaxed);
        let body = qr_request(&phone.qr(usize::from(atc / 4), atc, now_ms()), n);
        let started = Instant::now();
        let answer = terminal.try_post(&fleet.client, base, AUTHORIZE, &body).await;
        let Some(answer) = record_answer(seen, answer, started.elapsed()) else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        if answer["approved"] != true {
            continue;
        }
        let id = answer["authorization_id"].as_str().expect("id").to_owned();
        seen.lock()
            .expect("seen")
            .approved
            .push((id.clone(), answer["approved_amount"].as_i64().expect("amount")));
        settle(fleet, base, terminal, &id, n % 5 == 0, seen).await;
    }
}

/// Keeps count of an authorization answer; returns it when it is a 200.
fn record_answer(
    seen: &Mutex<Seen>,
    answer: Option<(u16, Value)>,
    took: Duration,
) -> Option<Value> {
    let mut seen = seen.lock().expect("seen");
    match answer {
        None => {
            seen.lost += 1;
            None
        }
        Some((200, a)) => {
            let code = a["response_code"].as_str().unwrap_or("?").to_owned();
            seen.slowest = seen.slowest.max(took);
            if code == "91" {
                seen.slowest_91 = seen.slowest_91.max(took);
            }
            *seen.codes.entry(code).or_default() += 1;
            Some(a)
        }
        Some((status, a)) => {
            seen.unexpected.push(format!("authorization answered {status}: {a}"));
            None
        }
    }
}

async fn settle(
    fleet: &Fleet,
    base: &str,
    terminal: &Terminal,
    id: &str,
    reverse: bool,
    seen: &Mutex<Seen>,
) {
    let (path, body) = if reverse {
        (format!("{AUTHORIZE}/{id}/reversal"), json!({}))
    } else {
        let body = json!({"amount": COMPLETED, "volume_ml": 3_335, "product": "diesel"});
        (format!("{AUTHORIZE}/{id}/completion"), body)
    };
    match terminal.try_post(&fleet.client, base, &path, &body).await {
        Some((200, _)) if reverse => seen.lock().expect("seen").reversed.push(id.to_owned()),
        Some((200, _)) => seen.lock().expect("seen").completed.push((id.to_owned(), COMPLETED)),
        // The documented retryable answer while a dependency is down.
        Some((503, _)) | None => {}
        Some((status, body)) => {
            seen.lock().expect("seen").unexpected.push(format!("{path} answered {status}: {body}"));
        }
    }
}

fn qr_request(qr: &str, stan: u32) -> Value {
    let at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("time");
    json!({"stan": format!("{:06}", stan % 1_000_000), "transmitted_at": at, "entry_mode": "qr", "qr": qr,
           "pump": 1, "products": ["diesel"], "amount": FILL, "unit_price": 179_900, "partial_supported": false})
}

/// One authorization row, as the checks need it.
struct Auth {
    status: String,
    org: Option<String>,
    card: Option<String>,
    token: Option<String>,
    approved_amount: i64,
    held_amount: i64,
    final_amount: Option<i64>,
    period_day: String,
    atc: Option<i64>,
}

/// Checks the database after the load; panics naming the first broken invariant. Returns a
/// one-line summary.
pub async fn check_invariants(db_url: &str, seen: &Seen, limits: Limits) -> String {
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(db_url).await.expect("open the database");
    let auths = authorizations(&mut db).await;
    let postings = postings(&mut db).await;
    check_ledger(&mut db, &auths, &postings).await;
    check_seen(&auths, &postings, seen);
    check_written_whole(&auths, &postings);
    check_limits(&mut db, &auths, limits).await;
    check_atcs(&auths);
    db.close().await.expect("close");
    let approved = auths.values().filter(|a| a.status != "declined").count();
    format!("{} authorizations ({approved} approved), {} postings", auths.len(), postings.len())
}

async fn authorizations(db: &mut sqlx::AnyConnection) -> HashMap<String, Auth> {
    let rows = sqlx::query(
        "SELECT id, status, org_id, card_id, token_id, approved_amount, held_amount, final_amount, period_day, trace FROM authorizations",
    )
    .fetch_all(db)
    .await
    .expect("authorizations");
    rows.iter()
        .map(|r| {
            let trace: Value = serde_json::from_str(&r.get::<String, _>("trace")).expect("trace");
            let auth = Auth {
                status: r.get("status"),
                org: r.get("org_id"),
                card: r.get("card_id"),
                token: r.get("token_id"),
                approved_amount: r.get("approved_amount"),
                held_amount: r.get("held_amount"),
                final_amount: r.get("final_amount"),
                period_day: r.get("period_day"),
                atc: trace["cryptogram"]["atc"].as_i64(),
            };
            (r.get::<String, _>("id"), auth)
        })
        .collect()
}

/// (org, authorization, kind, from, to, amount) of every posting.
type Posting = (String, Option<String>, String, String, String, i64);

async fn postings(db: &mut sqlx::AnyConnection) -> Vec<Posting> {
    let rows = sqlx::query(
        "SELECT org_id, authorization_id, kind, from_bucket, to_bucket, amount FROM postings",
    )
    .fetch_all(db)
    .await
    .expect("postings");
    rows.iter()
        .map(|r| {
            (
                r.get("org_id"),
                r.get("authorization_id"),
                r.get("kind"),
                r.get("from_bucket"),
                r.get("to_bucket"),
                r.get("amount"),
            )
        })
        .collect()
}

/// Every account balances, its buckets equal what the postings moved, and what is held is
/// exactly the holds of approved authorizations.
async fn check_ledger(
    db: &mut sqlx::AnyConnection,
    auths: &HashMap<String, Auth>,
    postings: &[Posting],
) {
    let rows = sqlx::query("SELECT org_id, credited, available, held, spent FROM accounts")
        .fetch_all(db)
        .await
        .expect("accounts");
    for r in &rows {
        let org: String = r.get("org_id");
        let [credited, available, held, spent]: [i64; 4] =
            ["credited", "available", "held", "spent"].map(|c| r.get::<i64, _>(c));
        assert_eq!(available + held + spent, credited, "{org}: the ledger does not balance");
        let mut net: HashMap<&str, i64> = HashMap::new();
        for (_, _, _, from, to, amount) in postings.iter().filter(|p| p.0 == org) {
            *net.entry(from.as_str()).or_default() -= amount;
            *net.entry(to.as_str()).or_default() += amount;
        }
        let bucket = |b: &str| net.get(b).copied().unwrap_or(0);
        assert_eq!(bucket("available"), available, "{org}: available differs from its postings");
        assert_eq!(bucket("held"), held, "{org}: held differs from its postings");
        assert_eq!(bucket("spent"), spent, "{org}: spent differs from its postings");
        assert_eq!(bucket("funding"), -credited, "{org}: credits differ from their postings");
        let holds: i64 = auths
            .values()
            .filter(|a| a.status == "approved" && a.org.as_deref() == Some(org.as_str()))
            .map(|a| a.held_amount)
            .sum();
        assert_eq!(holds, held, "{org}: held differs from the open holds");
    }
}

/// Every approval a terminal saw is stored with its hold; every acknowledged completion
/// and reversal is stored as such.
fn check_seen(auths: &HashMap<String, Auth>, postings: &[Posting], seen: &Seen) {
    let posted = |id: &str, kind: &str| -> i64 {
        postings.iter().filter(|p| p.1.as_deref() == Some(id) && p.2 == kind).map(|p| p.5).sum()
    };
    for (id, amount) in &seen.approved {
        let a = auths
            .get(id)
            .unwrap_or_else(|| panic!("approval {id} seen by a terminal is not stored"));
        assert!(
            ["approved", "completed", "reversed", "expired"].contains(&a.status.as_str()),
            "{id}: {}",
            a.status
        );
        assert_eq!(a.approved_amount, *amount, "{id}: approved amount");
        assert_eq!(posted(id, "hold"), a.held_amount, "{id}: its hold posting");
    }
    for (id, amount) in &seen.completed {
        let a = &auths[id];
        assert_eq!((a.status.as_str(), a.final_amount), ("completed", Some(*amount)), "{id}");
        assert_eq!(posted(id, "capture"), *amount, "{id}: its capture posting");
    }
    for id in &seen.reversed {
        assert_eq!(auths[id].status, "reversed", "{id}");
        assert_eq!(posted(id, "reversed"), auths[id].held_amount, "{id}: its release posting");
    }
}

/// No authorization is half-written: each status has exactly the postings it implies, and
/// no posting names an authorization that is not there.
fn check_written_whole(auths: &HashMap<String, Auth>, postings: &[Posting]) {
    let mut by_auth: HashMap<&str, BTreeMap<&str, i64>> = HashMap::new();
    for p in postings {
        if let Some(id) = &p.1 {
            assert!(auths.contains_key(id), "posting for a missing authorization {id}");
            *by_auth.entry(id.as_str()).or_default().entry(p.2.as_str()).or_default() += p.5;
        }
    }
    for (id, a) in auths {
        let kinds = by_auth.remove(id.as_str()).unwrap_or_default();
        let get = |k: &str| kinds.get(k).copied().unwrap_or(0);
        let expected: BTreeMap<&str, i64> = match a.status.as_str() {
            "declined" => BTreeMap::new(),
            "approved" => [("hold", a.held_amount)].into(),
            "reversed" | "expired" => {
                [("hold", a.held_amount), (a.status.as_str(), a.held_amount)].into()
            }
            "completed" => {
                let fin = a.final_amount.expect("final amount");
                [("hold", a.held_amount), ("capture", fin), ("release", a.held_amount - fin)].into()
            }
            other => panic!("{id}: unknown status {other}"),
        };
        let expected: BTreeMap<&str, i64> = expected.into_iter().filter(|(_, v)| *v != 0).collect();
        assert_eq!(kinds, expected, "{id} ({}) is half-written", a.status);
        if a.status != "declined" {
            assert!(
                a.org.is_some() && a.card.is_some() && a.held_amount > 0,
                "{id}: approval without card or hold"
            );
            assert_eq!(get("hold"), a.held_amount);
        }
    }
}

/// Per card and day: the live fills stay within the card's limits and equal the usage row
/// the commits re-check.
async fn check_limits(db: &mut sqlx::AnyConnection, auths: &HashMap<String, Auth>, limits: Limits) {
    let mut live: HashMap<(String, String), (i64, i64)> = HashMap::new();
    for a in auths.values() {
        let amount = match a.status.as_str() {
            "approved" => a.approved_amount,
            "completed" => a.final_amount.unwrap_or(0),
            _ => continue,
        };
        let e = live.entry((a.card.clone().expect("card"), a.period_day.clone())).or_default();
        e.0 += amount;
        e.1 += 1;
    }
    for ((card, day), (amount, fills)) in &live {
        assert!(*amount <= limits.amount, "{card} {day}: {amount} above the daily amount");
        if let Some(count) = limits.count {
            assert!(*fills <= count, "{card} {day}: {fills} fills above the daily count");
        }
        let usage =
            sqlx::query("SELECT amount, fills FROM card_usage WHERE card_id = $1 AND period = $2")
                .bind(card)
                .bind(day)
                .fetch_one(&mut *db)
                .await
                .expect("usage row");
        let stored: (i64, i64) = (usage.get("amount"), usage.get("fills"));
        assert_eq!(stored, (*amount, *fills), "{card} {day}: usage differs from its fills");
    }
}

/// No (token, ATC) was accepted twice.
fn check_atcs(auths: &HashMap<String, Auth>) {
    let mut seen = HashSet::new();
    for a in auths.values() {
        if let (Some(token), Some(atc)) = (&a.token, a.atc) {
            assert!(seen.insert((token.clone(), atc)), "ATC {atc} of token {token} accepted twice");
        }
    }
}

/// Seeded randomness for kill moments: the seed is printed so a failure can be replayed
/// with `FORECOURT_CRASH_SEED`.
pub fn rng() -> rand::rngs::StdRng {
    use rand::SeedableRng;
    let seed = std::env::var("FORECOURT_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| u64::try_from(now_ms()).unwrap_or(0));
    eprintln!("FORECOURT_CRASH_SEED={seed}");
    rand::rngs::StdRng::seed_from_u64(seed)
}

/// Kill cycles: `FORECOURT_CRASH_CYCLES` (default 3, the CI form).
pub fn cycles() -> usize {
    std::env::var("FORECOURT_CRASH_CYCLES").ok().and_then(|s| s.parse().ok()).unwrap_or(3)
}

/// The load of one cycle: every phone pays at a terminal (round robin), concurrently.
pub async fn load(
    fleet: &Fleet,
    base: &str,
    phones: &[Phone],
    stop: &AtomicBool,
    stan: &AtomicU32,
    seen: &Mutex<Seen>,
) {
    let payers = phones.iter().enumerate().map(|(i, phone)| {
        pay(fleet, base, &fleet.terminals[i % fleet.terminals.len()], phone, stop, stan, seen)
    });
    futures_util::future::join_all(payers).await;
}

/// `n` new phones on the fleet's card.
pub async fn phones(fleet: &Fleet, base: &str, n: usize) -> Vec<Phone> {
    let mut phones = Vec::new();
    for _ in 0..n {
        phones.push(fleet.phone(base).await);
    }
    phones
}
