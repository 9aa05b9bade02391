//! `forecourt`: the Forecourt server. With no arguments it runs the embedded default: SQLite
//! in `./forecourt-data/`, the in-process HSM in demo mode, and a demo fleet.

use clap::Parser;
use issuing::IssuingConfig;
use server::{demo, Config, HsmConfig, RemoteHsm, Timeouts};
use std::net::SocketAddr;
use std::path::PathBuf;

// A fill allocates many small, short-lived buffers (JSON, SQL rows, crypto) across the
// runtime's threads; mimalloc's per-thread free lists measured +4-7 % pre-auth/s over the
// system allocator on the two databases (docs/BENCHMARKS.md). Only the binary opts in, so the
// library crates and their tests keep the default allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "forecourt", version, about = "Virtual fuel cards paid by phone: the backend")]
struct Args {
    /// `sqlite:<file>` or `postgres://user@host/db`.
    #[arg(
        long,
        env = "FORECOURT_DATABASE_URL",
        default_value = "sqlite:forecourt-data/forecourt.db"
    )]
    database_url: String,
    #[arg(long, env = "FORECOURT_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Key store directory of the in-process HSM.
    #[arg(long, env = "FORECOURT_HSM_DIR", default_value = "forecourt-data/hsm")]
    hsm_dir: PathBuf,
    /// LMK components, comma-separated hex (from `forecourt-hsm init`). Without them the
    /// HSM runs in demo mode and keeps its components beside the store.
    #[arg(long, env = "FORECOURT_HSM_COMPONENTS", value_delimiter = ',', hide_env_values = true)]
    hsm_components: Option<Vec<String>>,
    /// Address of `forecourt-hsm serve` (host:port). Without it the HSM runs in-process.
    #[arg(long, env = "FORECOURT_HSM_ADDR")]
    hsm_addr: Option<String>,
    /// Pre-shared key (hex) for the out-of-process HSM, from `forecourt-hsm gen-psk`.
    #[arg(long, env = "FORECOURT_HSM_PSK", hide_env_values = true)]
    hsm_psk: Option<String>,
    /// Issuer BIN that new cards are numbered under (6 to 8 digits).
    #[arg(long, env = "FORECOURT_ISSUER_BIN", default_value = "700123")]
    issuer_bin: String,
    /// Do not create the demo fleet on an empty database.
    #[arg(long)]
    no_demo: bool,
    /// The longest a terminal waits for an authorization answer; past it, it gets 91.
    #[arg(long, env = "FORECOURT_AUTHORIZATION_DEADLINE_MS", default_value_t = authorizer::DEFAULT_AUTHORIZATION_DEADLINE_MS, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    authorization_deadline_ms: u64,
    /// Most pre-authorizations in progress at once; one more is answered 91 at once.
    #[arg(long, env = "FORECOURT_MAX_PENDING_AUTHORIZATIONS", default_value_t = authorizer::DEFAULT_MAX_PENDING_AUTHORIZATIONS, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    max_pending_authorizations: u32,
    /// Bound on TCP connect plus handshake with an out-of-process HSM.
    #[arg(long, env = "FORECOURT_HSM_CONNECT_TIMEOUT_MS", default_value_t = Timeouts::default().hsm_connect_timeout_ms, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    hsm_connect_timeout_ms: u64,
    /// Bound on waiting for a free HSM connection, and again for each reply.
    #[arg(long, env = "FORECOURT_HSM_TIMEOUT_MS", default_value_t = Timeouts::default().hsm_timeout_ms, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    hsm_timeout_ms: u64,
    /// Bound on waiting for a pooled database connection.
    #[arg(long, env = "FORECOURT_DB_ACQUIRE_TIMEOUT_MS", default_value_t = Timeouts::default().db_acquire_timeout_ms, value_parser = clap::value_parser!(u64).range(1..=60_000))]
    db_acquire_timeout_ms: u64,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn,tower_http=info".into()),
        )
        .init();
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("forecourt stopped: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    if args.database_url.starts_with("sqlite:forecourt-data/") {
        std::fs::create_dir_all("forecourt-data")?;
    }
    let config = Config {
        database_url: args.database_url,
        listen: args.listen,
        hsm: HsmConfig {
            dir: args.hsm_dir,
            components: args.hsm_components,
            remote: match (args.hsm_addr, args.hsm_psk) {
                (Some(addr), Some(psk_hex)) => Some(RemoteHsm { addr, psk_hex }),
                (None, None) => None,
                _ => return Err("--hsm-addr and FORECOURT_HSM_PSK go together".into()),
            },
        },
        issuing: IssuingConfig { issuer_bin: args.issuer_bin, ..IssuingConfig::default() },
        tokens: tokens::TokensConfig::default(),
        authorizer: authorizer::AuthorizerConfig {
            authorization_deadline_ms: args.authorization_deadline_ms,
            max_pending_authorizations: args.max_pending_authorizations,
            ..authorizer::AuthorizerConfig::default()
        },
        hold_sweep_interval_secs: 30,
        nonce_sweep_interval_secs: 5,
        seed_demo: !args.no_demo,
        timeouts: Timeouts {
            hsm_connect_timeout_ms: args.hsm_connect_timeout_ms,
            hsm_timeout_ms: args.hsm_timeout_ms,
            db_acquire_timeout_ms: args.db_acquire_timeout_ms,
        },
    };
    let (app, state) = server::build(&config).await?;
    if config.seed_demo {
        if let Some(fleet) = demo::seed_if_empty(&state.issuing).await? {
            print_demo(&fleet);
        }
    }
    // Holds whose completion never came are released. A nonce is remembered for at least
    // `NONCE_MEMORY_US` (docs/TERMINAL-API.md, step 5), so its sweep may come late: it
    // only keeps the table small.
    let holds = state.authorizer.clone();
    tokio::spawn(every(config.hold_sweep_interval_secs, "expired holds", move || {
        let holds = holds.clone();
        async move { holds.expire_holds().await.map(|n| n as u64) }
    }));
    let nonces = state.authorizer.clone();
    tokio::spawn(every(config.nonce_sweep_interval_secs, "old nonces", move || {
        let nonces = nonces.clone();
        async move { nonces.forget_old_nonces().await }
    }));
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    tracing::info!(listen = %config.listen, database = state.issuing.store().backend().as_str(), "forecourt is serving");
    axum::serve(listener, app).with_graceful_shutdown(shutdown()).await?;
    Ok(())
}

#[allow(clippy::print_stdout)]
fn print_demo(fleet: &demo::DemoFleet) {
    println!("\nDemo fleet created. Every demo account's password is {:?}:", demo::DEMO_PASSWORD);
    for (role, email) in &fleet.logins {
        println!("  {:<14} {email}", role.as_str());
    }
    println!("Try:  curl -s localhost:8080/v1/auth/login -H 'content-type: application/json' \\");
    println!(
        "        -d '{{\"email\":\"owner@demo-taxi.example\",\"password\":\"{}\"}}'\n",
        demo::DEMO_PASSWORD
    );
}

/// Runs the sweep `what` every `interval_secs`; a failed sweep is logged and tried again
/// on the next tick. It answers how many items it handled.
async fn every<T, F, Fut>(interval_secs: u64, what: &'static str, mut sweep: F)
where
    T: Into<u64>,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = issuing::Result<T>>,
{
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(interval_secs.max(1)));
    loop {
        tick.tick().await;
        match sweep().await.map(Into::into) {
            Ok(0) => {}
            Ok(n) => tracing::info!(sweep = what, n, "swept"),
            Err(e) => tracing::warn!(sweep = what, error = %e, "sweep failed; retrying next tick"),
        }
    }
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutting down");
}
