//! `forecourt-hsm`: key ceremony and checks for the HSM simulator's key store, and the HSM
//! served over TCP (`serve`, protocol in `docs/HSM.md`).

use std::error::Error;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use hsm_sim::tcp::{self, ServerLimits};
use hsm_sim::{Component, Engine, HsmError, Psk, Request, Response};
use zeroize::Zeroizing;

/// Environment variable holding the transport PSK (64 hex digits).
const PSK_ENV: &str = "FORECOURT_HSM_PSK";

type CliResult = Result<(), Box<dyn Error>>;

#[derive(Parser)]
#[command(name = "forecourt-hsm", version, about = "Forecourt HSM simulator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a new, empty key store under a fresh LMK and print its components.
    Init {
        /// Directory for keystore.json (created if missing).
        #[arg(long)]
        dir: PathBuf,
        /// Number of LMK components, one per custodian.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(2..=9))]
        components: u8,
    },
    /// Open the key store with the LMK components and print its health. The first open of
    /// a new store also generates its base keys.
    Check {
        /// Directory holding keystore.json.
        #[arg(long)]
        dir: PathBuf,
        #[command(flatten)]
        lmk: LmkArgs,
    },
    /// Open the key store and serve it over TCP to `HsmClient::tcp` clients holding the
    /// same pre-shared key (from FORECOURT_HSM_PSK or --psk-file). Stops on SIGTERM/ctrl-c.
    Serve {
        /// Directory holding keystore.json.
        #[arg(long)]
        dir: PathBuf,
        /// Address to listen on. Port 0 picks a free port (logged on start).
        #[arg(long, default_value = "127.0.0.1:7700")]
        listen: SocketAddr,
        /// File holding the transport PSK as 64 hex digits (instead of FORECOURT_HSM_PSK).
        #[arg(long, value_name = "FILE")]
        psk_file: Option<PathBuf>,
        /// Listen on a non-loopback address. Frames are authenticated, not encrypted: only
        /// for a network path that is itself protected.
        #[arg(long)]
        allow_non_loopback: bool,
        #[command(flatten)]
        lmk: LmkArgs,
    },
    /// Print a new random transport PSK (64 hex digits) for FORECOURT_HSM_PSK or --psk-file.
    GenPsk,
}

#[derive(Args)]
struct LmkArgs {
    /// LMK component as 64 hex digits; repeat once per component (in the environment
    /// variable: comma-separated).
    #[arg(
        long = "component",
        value_name = "HEX",
        env = "FORECOURT_HSM_COMPONENTS",
        value_delimiter = ',',
        hide_env_values = true,
        required = true
    )]
    components: Vec<String>,
}

impl LmkArgs {
    fn open(&self, dir: &Path) -> Result<Engine, HsmError> {
        let components = self
            .components
            .iter()
            .map(|h| Component::parse_hex(h))
            .collect::<Result<Vec<_>, _>>()?;
        Engine::open(dir, &components)
    }
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Init { dir, components } => init(&dir, usize::from(components)),
        Command::Check { dir, lmk } => check(&dir, &lmk),
        Command::Serve { dir, listen, psk_file, allow_non_loopback, lmk } => {
            serve(&dir, listen, psk_file.as_deref(), allow_non_loopback, &lmk)
        }
        Command::GenPsk => gen_psk(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Printing the components is the point of `init`: each custodian writes down theirs.
fn init(dir: &Path, n: usize) -> CliResult {
    let report = hsm_sim::init(dir, n)?;
    println!("Created {}", report.store_path.display());
    println!("Give each component to a different custodian; it is shown only this once.");
    for (i, c) in report.components.iter().enumerate() {
        println!("component {}: {}  KCV {}", i + 1, c.to_hex().as_str(), c.kcv());
    }
    println!("LMK KCV: {}", report.lmk_kcv);
    Ok(())
}

fn check(dir: &Path, lmk: &LmkArgs) -> CliResult {
    let engine = lmk.open(dir)?;
    let Response::Health(report) = engine.execute(Request::Health)? else {
        return Err(HsmError::Unavailable("unexpected answer to health".into()).into());
    };
    println!("status: {}", report.status);
    println!("LMK KCV: {}", report.lmk_kcv);
    println!("keys: {}", report.key_count);
    Ok(())
}

/// The PSK alone on stdout (so `gen-psk > file` works); its check value on stderr.
fn gen_psk() -> CliResult {
    let psk = Psk::generate();
    println!("{}", psk.to_hex().as_str());
    eprintln!("PSK check value: {}", psk.check_value());
    Ok(())
}

fn serve(
    dir: &Path,
    listen: SocketAddr,
    psk_file: Option<&Path>,
    allow_non_loopback: bool,
    lmk: &LmkArgs,
) -> CliResult {
    init_logging();
    if !listen.ip().is_loopback() && !allow_non_loopback {
        return Err(format!(
            "refusing to listen on {listen}: frames are authenticated but not encrypted; \
             pass --allow-non-loopback if the network path is protected"
        )
        .into());
    }
    let psk = load_psk(psk_file)?;
    let engine = Arc::new(lmk.open(dir)?);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run_server(listen, engine, psk))
}

async fn run_server(listen: SocketAddr, engine: Arc<Engine>, psk: Psk) -> CliResult {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, lmk_kcv = %engine.lmk_kcv(), psk_check = %psk.check_value(), "listening");
    // Dropping the server future on shutdown closes every connection with it.
    tokio::select! {
        () = tcp::serve(listener, engine, psk, ServerLimits::default()) => {}
        () = shutdown_signal() => tracing::info!("shutting down"),
    }
    Ok(())
}

/// The PSK from `--psk-file` or the environment; both set is refused so a stale variable
/// cannot silently win over the file (or the other way round).
fn load_psk(file: Option<&Path>) -> Result<Psk, Box<dyn Error>> {
    let env = std::env::var(PSK_ENV).ok().map(Zeroizing::new);
    match (file, env) {
        (Some(_), Some(_)) => Err(format!("set --psk-file or {PSK_ENV}, not both").into()),
        (Some(path), None) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            Ok(Psk::parse_hex(&Zeroizing::new(text))?)
        }
        (None, Some(text)) => Ok(Psk::parse_hex(&text)?),
        (None, None) => Err(format!(
            "no transport PSK: set {PSK_ENV} or pass --psk-file \
             (make one with `forecourt-hsm gen-psk`)"
        )
        .into()),
    }
}

fn init_logging() {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

/// Resolves on ctrl-c or (on Unix) SIGTERM. If a handler cannot be installed, that signal
/// is simply not awaited rather than stopping the server at once.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
