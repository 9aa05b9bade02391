//! `load`, the project's load benchmark: N phones (made in process, `phone`), M pumps
//! running pre-authorization → completion in parallel for T seconds or K fills, then
//! throughput, latency percentiles and counts per response code.

pub mod phone;
pub mod stats;

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::Mutex;

use crate::client::{TerminalClient, UserClient};
use crate::flow::{self, Approval, FillOptions, MessageId, Payment, Preset};
use crate::Result;
use phone::Phone;
use stats::{per_second, LatencyLine, Stats};

/// When the run stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Seconds(u64),
    Fills(u64),
}

#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub wallets: usize,
    pub pumps: usize,
    pub limit: Limit,
    /// Drivers whose phones pay, used in turn (the demo drivers by default).
    pub drivers: Vec<String>,
    pub password: String,
    /// Amount each pump is preset to, minor units.
    pub amount: i64,
    pub unit_price: i64,
    pub product: String,
    /// Credit each driver's fleet account with this much first (needs the operator).
    pub fund: Option<(i64, String, String)>,
    /// Create one new driver with a new card per wallet, as this owner (email, password),
    /// instead of logging in as `drivers`.
    pub create_drivers: Option<(String, String)>,
}

/// Shared progress of the run.
#[derive(Default)]
struct Progress {
    started: AtomicU64,
    done: AtomicU64,
    approved: AtomicU64,
    errors: AtomicU64,
}

/// Runs the benchmark and prints its summary on stdout; returns the merged statistics.
pub async fn run(server: &str, terminal: TerminalClient, opts: &LoadOptions) -> Result<Stats> {
    if opts.wallets == 0 || opts.pumps == 0 || opts.drivers.is_empty() {
        return Err("need at least one wallet, one pump and one driver".into());
    }
    let setup = Instant::now();
    let mut logins: Vec<(String, UserClient)> = Vec::new();
    if let Some((email, password)) = &opts.create_drivers {
        logins = create_drivers(server, email, password, opts.wallets).await?;
    } else {
        for email in &opts.drivers {
            logins.push((email.clone(), UserClient::login(server, email, &opts.password).await?));
        }
    }
    if let Some((amount, email, password)) = &opts.fund {
        fund(server, &logins, *amount, email, password).await?;
    }
    let mut phones = Vec::with_capacity(opts.wallets);
    for i in 0..opts.wallets {
        let (email, driver) = &logins[i % logins.len()];
        let phone = Phone::enrol_and_provision(driver.clone(), &format!("load phone {i}"))
            .await
            .map_err(|e| format!("phone {i} of {email}: {e}"))?;
        phones.push(Arc::new(Mutex::new(phone)));
    }
    eprintln!(
        "{} phones enrolled and provisioned in {} ms; {} pumps start",
        phones.len(),
        setup.elapsed().as_millis(),
        opts.pumps
    );

    let phones = Arc::new(phones);
    let progress = Arc::new(Progress::default());
    let stan_base: u64 = rand::random::<u64>() % 1_000_000;
    let start = Instant::now();
    let deadline = match opts.limit {
        Limit::Seconds(s) => Some(start + Duration::from_secs(s)),
        Limit::Fills(_) => None,
    };
    let max_fills = match opts.limit {
        Limit::Fills(k) => k,
        Limit::Seconds(_) => u64::MAX,
    };
    let mut pumps = Vec::with_capacity(opts.pumps);
    for pump in 0..opts.pumps {
        let fill = FillOptions {
            pump: u16::try_from(pump + 1).unwrap_or(u16::MAX),
            products: vec![opts.product.clone()],
            preset: Preset::Amount(opts.amount),
            unit_price: opts.unit_price,
            ..FillOptions::default()
        };
        let (terminal, phones, progress) = (terminal.clone(), phones.clone(), progress.clone());
        pumps.push(tokio::spawn(async move {
            let mut stats = Stats::default();
            loop {
                let n = progress.started.fetch_add(1, Ordering::Relaxed);
                if n >= max_fills || deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let phone = &phones[usize::try_from(n).unwrap_or(0) % phones.len()];
                let id = MessageId::new(stan_base + n);
                one_fill(&terminal, phone, &fill, &id, &mut stats, &progress).await;
                progress.done.fetch_add(1, Ordering::Relaxed);
            }
            stats
        }));
    }
    let reporter = tokio::spawn(report_progress(progress.clone(), opts.limit, start));
    let mut total = Stats::default();
    for pump in pumps {
        total.merge(pump.await.map_err(|e| format!("pump task failed: {e}"))?);
    }
    let elapsed_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX).max(1);
    reporter.abort();
    print_progress(&progress, opts.limit, start);
    eprintln!();
    print_summary(&total, elapsed_ms, opts);
    Ok(total)
}

/// The owner creates `count` drivers (invited, then activated with a random password) and
/// issues each a card; returns their sessions.
async fn create_drivers(
    server: &str,
    owner_email: &str,
    owner_password: &str,
    count: usize,
) -> Result<Vec<(String, UserClient)>> {
    let owner = UserClient::login(server, owner_email, owner_password).await?;
    let domain = owner_email.rsplit_once('@').map_or("example.com", |(_, d)| d);
    let run = hex::encode(rand::random::<[u8; 4]>());
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let email = format!("load-{run}-{i}@{domain}");
        let password = format!("load-{}", hex::encode(rand::random::<[u8; 12]>()));
        let body = json!({"email": email, "name": format!("Load driver {i}"), "role": "driver"});
        let invited = owner.post("/v1/users", &body).await?.ok("creating a driver")?;
        let driver_id = invited["user"]["id"].as_str().ok_or("user answer without id")?;
        let invite = invited["invite_token"].as_str().ok_or("user answer without invite")?;
        owner
            .post_public(
                "/v1/auth/accept-invite",
                &json!({"invite_token": invite, "password": password}),
            )
            .await?
            .ok("accepting the invite")?;
        owner.post("/v1/cards", &json!({"driver_id": driver_id})).await?.ok("issuing a card")?;
        out.push((email.clone(), UserClient::login(server, &email, &password).await?));
    }
    eprintln!("created {count} drivers with a card each");
    Ok(out)
}

/// The operator credits the fleet account of each driver's org once.
async fn fund(
    server: &str,
    logins: &[(String, UserClient)],
    amount: i64,
    email: &str,
    password: &str,
) -> Result<()> {
    let operator = UserClient::login(server, email, password).await?;
    let mut orgs: Vec<String> = Vec::new();
    for (_, driver) in logins {
        let me = driver.get("/v1/me").await?.ok("reading the driver's profile")?;
        let org = me["org_id"].as_str().ok_or("driver without org")?.to_owned();
        if !orgs.contains(&org) {
            operator
                .post(&format!("/v1/orgs/{org}/account/credits"), &json!({"amount": amount}))
                .await?
                .ok("crediting the fleet account")?;
            eprintln!("credited {amount} to org {org}");
            orgs.push(org);
        }
    }
    Ok(())
}

fn micros(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX)
}

async fn one_fill(
    terminal: &TerminalClient,
    phone: &Mutex<Phone>,
    fill: &FillOptions,
    id: &MessageId,
    stats: &mut Stats,
    progress: &Progress,
) {
    let error = |stats: &mut Stats, code: String| {
        stats.errors += 1;
        stats.count(code);
        progress.errors.fetch_add(1, Ordering::Relaxed);
    };
    let qr = match phone.lock().await.next_qr().await {
        Ok(qr) => qr,
        Err(e) => {
            eprintln!("\nphone: {e}");
            return error(stats, "phone error".into());
        }
    };
    let body = flow::authorization_body(fill, &Payment::Qr(qr), id);
    let start = Instant::now();
    let answer = terminal.post(flow::AUTHORIZATIONS, &body).await;
    let approval = match answer.map(|a| (a.status, a.ok("pre-authorization"))) {
        Ok((_, Ok(body))) => Approval::parse(&body),
        Ok((status, Err(_))) => return error(stats, format!("http {status}")),
        Err(_) => return error(stats, "error".into()),
    };
    stats.preauth.record(micros(start));
    let Ok(approval) = approval else { return error(stats, "malformed".into()) };
    stats.count(approval.response_code.clone());
    if !approval.approved {
        return;
    }
    stats.approved += 1;
    progress.approved.fetch_add(1, Ordering::Relaxed);
    let fuel = flow::dispense(fill, &approval);
    let path = format!("{}/{}/completion", flow::AUTHORIZATIONS, approval.authorization_id);
    let body = json!({"amount": fuel.amount, "volume_ml": fuel.volume_ml, "product": fuel.product});
    let start = Instant::now();
    match terminal.post(&path, &body).await {
        Ok(answer) if answer.is_success() => {
            stats.completion.record(micros(start));
            stats.completed += 1;
        }
        Ok(answer) => {
            stats.errors += 1;
            progress.errors.fetch_add(1, Ordering::Relaxed);
            eprintln!("\ncompletion: HTTP {} {}", answer.status, answer.body);
        }
        Err(e) => {
            stats.errors += 1;
            progress.errors.fetch_add(1, Ordering::Relaxed);
            eprintln!("\ncompletion: {e}");
        }
    }
}

async fn report_progress(progress: Arc<Progress>, limit: Limit, start: Instant) {
    loop {
        print_progress(&progress, limit, start);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The one-line progress on stderr, redrawn in place.
fn print_progress(progress: &Progress, limit: Limit, start: Instant) {
    let done = progress.done.load(Ordering::Relaxed);
    let of = match limit {
        Limit::Fills(k) => format!("{done}/{k} fills"),
        Limit::Seconds(s) => format!("{done} fills, {}/{s} s", start.elapsed().as_secs()),
    };
    let elapsed_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(1);
    eprint!(
        "\r{of}  approved {}  errors {}  {} fills/s   ",
        progress.approved.load(Ordering::Relaxed),
        progress.errors.load(Ordering::Relaxed),
        per_second(done, elapsed_ms)
    );
    let _ = std::io::stderr().flush();
}

fn print_summary(stats: &Stats, elapsed_ms: u64, opts: &LoadOptions) {
    let fills = stats.fills();
    println!(
        "load: {fills} fills in {elapsed_ms} ms with {} pumps and {} wallets: {} fills/s",
        opts.pumps,
        opts.wallets,
        per_second(fills, elapsed_ms)
    );
    println!(
        "approved {}, declined {}, errors {}, completed {}",
        stats.approved,
        fills - stats.approved - stats.errors,
        stats.errors,
        stats.completed
    );
    println!("{}", LatencyLine("pre-authorization", &stats.preauth));
    println!("{}", LatencyLine("completion", &stats.completion));
    let codes: Vec<String> = stats.codes.iter().map(|(c, n)| format!("{c}={n}")).collect();
    println!("response codes: {}", codes.join(" "));
}
