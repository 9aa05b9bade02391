//! `load`, the project's load benchmark: phones made in process (`phone`) in one or
//! several fleets (`setup`), then fills — a mix of QR and NFC, completed, reversed or
//! declined (`mix`) — driven closed loop (M pumps, each starting its next fill when the
//! last ended: maximum throughput) or open loop (`--rate`: fills started on a fixed
//! schedule, latency counted from the scheduled start so a slow answer cannot hide the
//! queue behind it), for T seconds or K fills; then throughput, latency percentiles per
//! phase and counts per response code, and a `RESULT {json}` line.

pub mod mix;
pub mod phone;
pub mod setup;
pub mod stats;

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use emv::cryptogram::TerminalData;
use serde_json::json;
use tokio::sync::Mutex;

use crate::client::TerminalClient;
use crate::flow::{self, Approval, FillOptions, MessageId, Payment, Preset};
use crate::nfc::TerminalValues;
use crate::Result;
use mix::{Entry, Kind, Mix, Schedule};
use phone::Phone;
use setup::{Drivers, SetupOptions};
use stats::{per_second, LatencyLine, Stats};

/// When the run stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Seconds(u64),
    Fills(u64),
}

/// The answer a decline fill expects: `PRODUCT_NOT_ALLOWED`. Limit declines would count
/// towards the fraud rule `repeated_failures` and make the card's later fills decline 59;
/// a product the card does not allow is not counted.
pub const DECLINE_CODE: &str = "57";

#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub setup: SetupOptions,
    pub pumps: usize,
    pub limit: Limit,
    /// Open loop: pre-authorizations started per second. `None`: closed loop.
    pub rate: Option<u64>,
    /// Amount each pump is preset to, minor units.
    pub amount: i64,
    pub unit_price: i64,
    pub product: String,
    pub mix: Mix,
}

/// A product other than `product`, offered by decline fills.
pub fn decline_product(product: &str) -> &'static str {
    if product == "car_wash" {
        "shop"
    } else {
        "car_wash"
    }
}

/// Shared progress of the run.
#[derive(Default)]
struct Progress {
    started: AtomicU64,
    done: AtomicU64,
    approved: AtomicU64,
    errors: AtomicU64,
}

/// What every fill shares.
struct Run {
    terminal: TerminalClient,
    phones: Vec<Mutex<Phone>>,
    mix: Mix,
    /// The pump's settings of a normal fill and of a decline fill.
    fill: FillOptions,
    decline: FillOptions,
    amount: u64,
    stan_base: u64,
    progress: Progress,
}

/// Runs the benchmark and prints its summary on stdout; returns the merged statistics.
pub async fn run(server: &str, terminal: TerminalClient, opts: &LoadOptions) -> Result<Stats> {
    let no_drivers =
        matches!(&opts.setup.drivers, Drivers::Existing { emails, .. } if emails.is_empty());
    if opts.setup.wallets == 0 || opts.pumps == 0 || no_drivers {
        return Err("need at least one wallet, one pump and one driver".into());
    }
    if matches!(opts.setup.drivers, Drivers::Fleets(0)) {
        return Err("--fleets must be at least 1".into());
    }
    if opts.amount <= 0 {
        return Err("--amount must be positive".into());
    }
    let mut mix = opts.mix;
    let mut setup_opts = opts.setup.clone();
    if mix.decline_percent > 0 {
        if matches!(setup_opts.drivers, Drivers::Existing { .. }) {
            eprintln!(
                "no declines: they need cards whose products the load restricts \
                 (--fleets or --owner-email)"
            );
            mix.decline_percent = 0;
        } else {
            setup_opts.restrict_to = Some(opts.product.clone());
        }
    }
    let setup_start = Instant::now();
    let ready = setup::run(server, &setup_opts).await?;
    let setup_ms = u64::try_from(setup_start.elapsed().as_millis()).unwrap_or(u64::MAX);
    let wallets = ready.phones.len();
    let fleets = match ready.fleets {
        0 => String::new(),
        n => format!("{n} fleets, "),
    };
    eprintln!(
        "setup: {fleets}{} drivers, {wallets} phones enrolled and provisioned in {setup_ms} ms",
        ready.drivers,
    );
    let fill = FillOptions {
        products: vec![opts.product.clone()],
        preset: Preset::Amount(opts.amount),
        unit_price: opts.unit_price,
        ..FillOptions::default()
    };
    let decline =
        FillOptions { products: vec![decline_product(&opts.product).into()], ..fill.clone() };
    let run = Arc::new(Run {
        terminal,
        phones: ready.phones.into_iter().map(Mutex::new).collect(),
        mix,
        fill,
        decline,
        amount: u64::try_from(opts.amount).unwrap_or(0),
        stan_base: rand::random::<u64>() % 1_000_000,
        progress: Progress::default(),
    });
    let schedule = match opts.rate {
        None => {
            eprintln!("{} pumps start (closed loop)", opts.pumps);
            None
        }
        Some(rate) => {
            eprintln!("fills start at {rate}/s (open loop)");
            Some(Schedule::new(rate).ok_or("--rate must be at least 1")?)
        }
    };
    let start = Instant::now();
    let reporter = tokio::spawn(report_progress(run.clone(), opts.limit, start));
    let mut total = match schedule {
        None => closed_loop(&run, opts, start).await?,
        Some(schedule) => open_loop(&run, schedule, opts.limit, start).await?,
    };
    let elapsed_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX).max(1);
    reporter.abort();
    for phone in &run.phones {
        total.replenished += phone.lock().await.replenishments;
    }
    print_progress(&run.progress, opts.limit, start);
    eprintln!();
    let summary = Summary { stats: &total, elapsed_ms, setup_ms, wallets, fleets: ready.fleets };
    summary.print(opts, &mix);
    Ok(total)
}

/// M pumps, each starting its next fill as soon as the last one ended.
async fn closed_loop(run: &Arc<Run>, opts: &LoadOptions, start: Instant) -> Result<Stats> {
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
        let run = run.clone();
        let pump = u16::try_from(pump + 1).unwrap_or(u16::MAX);
        pumps.push(tokio::spawn(async move {
            let mut stats = Stats::default();
            loop {
                let n = run.progress.started.fetch_add(1, Ordering::Relaxed);
                if n >= max_fills || deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                one_fill(&run, n, pump, None, &mut stats).await;
                run.progress.done.fetch_add(1, Ordering::Relaxed);
            }
            stats
        }));
    }
    let mut total = Stats::default();
    for pump in pumps {
        total.merge(pump.await.map_err(|e| format!("pump task failed: {e}"))?);
    }
    Ok(total)
}

/// Fill `n` starts at `schedule.at(n)` whatever the fills before it are doing; its
/// pre-authorization latency counts from that time.
async fn open_loop(
    run: &Arc<Run>,
    schedule: Schedule,
    limit: Limit,
    start: Instant,
) -> Result<Stats> {
    let fills = match limit {
        Limit::Fills(k) => k,
        Limit::Seconds(s) => schedule.due_within(Duration::from_secs(s)),
    };
    let mut total = Stats::default();
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..fills {
        let due = start + schedule.at(n);
        tokio::time::sleep_until(tokio::time::Instant::from_std(due)).await;
        run.progress.started.fetch_add(1, Ordering::Relaxed);
        let run = run.clone();
        // Pump numbers cycle as at a station with 16 pumps.
        let pump = u16::try_from(n % 16 + 1).unwrap_or(1);
        tasks.spawn(async move {
            let mut stats = Stats::default();
            one_fill(&run, n, pump, Some(due), &mut stats).await;
            run.progress.done.fetch_add(1, Ordering::Relaxed);
            stats
        });
        while let Some(done) = tasks.try_join_next() {
            total.merge(done.map_err(|e| format!("fill task failed: {e}"))?);
        }
    }
    while let Some(done) = tasks.join_next().await {
        total.merge(done.map_err(|e| format!("fill task failed: {e}"))?);
    }
    Ok(total)
}

fn micros(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX)
}

/// What the terminal puts into the PDOL data: the preset amount in euro, in Germany,
/// today, a fresh unpredictable number.
fn terminal_data(amount: u64) -> TerminalData {
    let v = TerminalValues::now(amount);
    TerminalData {
        amount_minor: v.amount_minor,
        currency_numeric: v.currency,
        country_numeric: v.country,
        date: v.date,
        unpredictable_number: v.unpredictable_number,
    }
}

/// One fill (see [`fill`]), then, when the phone runs low on keys, its replenishment
/// (outside the measured requests, as a wallet refreshes its keys ahead of the next tap).
async fn one_fill(run: &Run, n: u64, pump: u16, scheduled: Option<Instant>, stats: &mut Stats) {
    fill(run, n, pump, scheduled, stats).await;
    let phone = &run.phones[usize::try_from(n).unwrap_or(0) % run.phones.len()];
    if let Err(e) = phone.lock().await.replenish_if_low().await {
        stats.errors += 1;
        run.progress.errors.fetch_add(1, Ordering::Relaxed);
        eprintln!("\nreplenishment: {e}");
    }
}

/// One fill: fill `n`'s payment data from its phone, the pre-authorization, then the
/// completion or reversal the mix says. `scheduled` (open loop) is when the fill was due;
/// otherwise the latency counts from the request.
async fn fill(run: &Run, n: u64, pump: u16, scheduled: Option<Instant>, stats: &mut Stats) {
    let progress = &run.progress;
    let error = |stats: &mut Stats, code: String| {
        stats.errors += 1;
        stats.count(code);
        progress.errors.fetch_add(1, Ordering::Relaxed);
    };
    let kind = run.mix.kind(n);
    let entry = run.mix.entry(n);
    let phone = &run.phones[usize::try_from(n).unwrap_or(0) % run.phones.len()];
    let payment = {
        let mut phone = phone.lock().await;
        match entry {
            Entry::Qr => phone.next_qr().await.map(Payment::Qr),
            Entry::Nfc => phone
                .tap(terminal_data(run.amount))
                .await
                .map(|(gpo_response, pdol_data)| Payment::Nfc { gpo_response, pdol_data }),
        }
    };
    let payment = match payment {
        Ok(p) => p,
        Err(e) => {
            eprintln!("\nphone: {e}");
            return error(stats, "phone error".into());
        }
    };
    if entry == Entry::Nfc {
        stats.nfc += 1;
    }
    let fill = if kind == Kind::Decline { &run.decline } else { &run.fill };
    let fill = FillOptions { pump, ..fill.clone() };
    let id = MessageId::new(run.stan_base + n);
    let body = flow::authorization_body(&fill, &payment, &id);
    let start = scheduled.unwrap_or_else(Instant::now);
    let answer = run.terminal.post(flow::AUTHORIZATIONS, &body).await;
    let approval = match answer.map(|a| (a.status, a.ok("pre-authorization"))) {
        Ok((_, Ok(body))) => Approval::parse(&body),
        Ok((status, Err(_))) => return error(stats, format!("http {status}")),
        Err(_) => return error(stats, "error".into()),
    };
    stats.preauth.record(micros(start));
    let Ok(approval) = approval else { return error(stats, "malformed".into()) };
    stats.count(approval.response_code.clone());
    if kind == Kind::Decline {
        stats.decline_fills += 1;
        if approval.approved || approval.response_code != DECLINE_CODE {
            stats.unexpected += 1;
        }
    } else if !approval.approved {
        stats.unexpected += 1;
    }
    if !approval.approved {
        return;
    }
    stats.approved += 1;
    progress.approved.fetch_add(1, Ordering::Relaxed);
    let path = format!("{}/{}", flow::AUTHORIZATIONS, approval.authorization_id);
    if kind != Kind::Complete {
        // A reversal, or an approved decline fill: release the hold.
        let start = Instant::now();
        match run.terminal.post(&format!("{path}/reversal"), &json!({})).await {
            Ok(answer) if answer.is_success() => {
                stats.reversal.record(micros(start));
                stats.reversed += 1;
            }
            Ok(answer) => phase_error(stats, progress, "reversal", &answer.status, &answer.body),
            Err(e) => phase_error(stats, progress, "reversal", &"-", &e),
        }
        return;
    }
    let fuel = flow::dispense(&fill, &approval);
    let body = json!({"amount": fuel.amount, "volume_ml": fuel.volume_ml, "product": fuel.product});
    let start = Instant::now();
    match run.terminal.post(&format!("{path}/completion"), &body).await {
        Ok(answer) if answer.is_success() => {
            stats.completion.record(micros(start));
            stats.completed += 1;
        }
        Ok(answer) => phase_error(stats, progress, "completion", &answer.status, &answer.body),
        Err(e) => phase_error(stats, progress, "completion", &"-", &e),
    }
}

fn phase_error(
    stats: &mut Stats,
    progress: &Progress,
    phase: &str,
    status: &dyn std::fmt::Display,
    detail: &dyn std::fmt::Display,
) {
    stats.errors += 1;
    progress.errors.fetch_add(1, Ordering::Relaxed);
    eprintln!("\n{phase}: HTTP {status} {detail}");
}

async fn report_progress(run: Arc<Run>, limit: Limit, start: Instant) {
    loop {
        print_progress(&run.progress, limit, start);
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

/// The end of the run, for the summary.
struct Summary<'a> {
    stats: &'a Stats,
    elapsed_ms: u64,
    setup_ms: u64,
    wallets: usize,
    fleets: usize,
}

impl Summary<'_> {
    fn print(&self, opts: &LoadOptions, mix: &Mix) {
        let Summary { stats, elapsed_ms, setup_ms, wallets, .. } = *self;
        let fills = stats.fills();
        let per_s = per_second(fills, elapsed_ms);
        println!("setup: {wallets} phones in {setup_ms} ms");
        match opts.rate {
            None => println!(
                "load: {fills} fills in {elapsed_ms} ms with {} pumps and {wallets} wallets: \
                 {per_s} fills/s",
                opts.pumps
            ),
            Some(rate) => println!(
                "load: {fills} fills in {elapsed_ms} ms at {rate}/s scheduled (open loop) with \
                 {wallets} wallets: {per_s} fills/s"
            ),
        }
        println!(
            "approved {}, declined {}, errors {}, completed {}, reversed {}",
            stats.approved,
            self.declined(),
            stats.errors,
            stats.completed,
            stats.reversed
        );
        println!(
            "mix: nfc {}, qr {}; decline fills {} (expect {DECLINE_CODE} {}), unexpected answers \
             {}; replenishments {}",
            stats.nfc,
            fills.saturating_sub(stats.nfc),
            stats.decline_fills,
            decline_product(&opts.product),
            stats.unexpected,
            stats.replenished
        );
        println!("{}", LatencyLine("pre-authorization", &stats.preauth, elapsed_ms));
        println!("{}", LatencyLine("completion", &stats.completion, elapsed_ms));
        println!("{}", LatencyLine("reversal", &stats.reversal, elapsed_ms));
        let codes: Vec<String> = stats.codes.iter().map(|(c, n)| format!("{c}={n}")).collect();
        println!("response codes: {}", codes.join(" "));
        println!("RESULT {}", self.json(opts, mix));
    }

    fn declined(&self) -> u64 {
        self.stats.fills().saturating_sub(self.stats.approved + self.stats.errors)
    }

    /// The machine-readable line: counts, milliseconds, latencies in microseconds.
    fn json(&self, opts: &LoadOptions, mix: &Mix) -> serde_json::Value {
        let s = self.stats;
        json!({
            "mode": if opts.rate.is_some() { "open" } else { "closed" },
            "rate": opts.rate,
            "pumps": opts.rate.is_none().then_some(opts.pumps),
            "fleets": self.fleets,
            "wallets": self.wallets,
            "setup_ms": self.setup_ms,
            "elapsed_ms": self.elapsed_ms,
            "fills": s.fills(),
            "per_s": per_second(s.fills(), self.elapsed_ms),
            "nfc_percent": mix.nfc_percent,
            "reversal_percent": mix.reversal_percent,
            "decline_percent": mix.decline_percent,
            "approved": s.approved,
            "declined": self.declined(),
            "errors": s.errors,
            "completed": s.completed,
            "reversed": s.reversed,
            "replenished": s.replenished,
            "nfc": s.nfc,
            "decline_fills": s.decline_fills,
            "unexpected": s.unexpected,
            "codes": s.codes,
            "preauth": s.preauth.json(self.elapsed_ms),
            "completion": s.completion.json(self.elapsed_ms),
            "reversal": s.reversal.json(self.elapsed_ms),
        })
    }
}
