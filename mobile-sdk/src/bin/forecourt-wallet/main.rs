//! `forecourt-wallet`: a driver's phone on the command line, for demos and tests.
//!
//! The wallet lives in one file (`--wallet`, mode 0600: device key, tokens, LUKs, ATCs,
//! and the login session). The clock sync is per process (monotonic time means nothing
//! across processes), so every command that makes payment data syncs first.
//!
//! ```text
//! forecourt-wallet login --email anna@demo-taxi.example --password forecourt-demo
//! forecourt-wallet sync
//! forecourt-wallet enrol --label "Anna's phone"
//! forecourt-wallet cards
//! forecourt-wallet provision --card <card id>
//! forecourt-wallet qr            # live QR code with a countdown; ctrl-c to stop
//! forecourt-wallet qr --once     # payload on stdout, e.g. for forecourt-terminal
//! forecourt-wallet hce --socket /tmp/phone.sock
//! ```
//!
//! See `mobile-sdk/README.md` for the HCE socket framing.

mod api;
mod commands;
mod hce_socket;
mod qr;
mod qr_draw;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use zeroize::Zeroizing;

#[derive(Parser)]
#[command(name = "forecourt-wallet", version, about = "Forecourt demo wallet (a driver's phone)")]
struct Cli {
    /// Forecourt server (plain HTTP, loopback).
    #[arg(long, env = "FORECOURT_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Wallet file (created on first use, mode 0600).
    #[arg(long, env = "FORECOURT_WALLET", default_value = "forecourt-wallet.json")]
    wallet: PathBuf,
    /// Token to pay with, if the phone holds several (default: the first).
    #[arg(long, global = true)]
    token: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Log in as the driver; the session is kept in the wallet file.
    Login {
        #[arg(long)]
        email: String,
        #[arg(long, env = "FORECOURT_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Sync the clock with the server's signed time (pins its key on first use).
    Sync,
    /// Enrol this phone's device key.
    Enrol {
        #[arg(long, default_value = "forecourt-wallet")]
        label: String,
    },
    /// List the driver's cards and whether this phone holds a token for each.
    Cards,
    /// Get a payment token for a card on this phone.
    Provision {
        #[arg(long)]
        card: String,
    },
    /// Get new limited-use keys for the token.
    Replenish,
    /// Show what the phone holds: device, tokens, keys left.
    Status,
    /// Show QR payment data with its countdown, regenerated when it expires.
    Qr {
        /// Print one payload on stdout and exit.
        #[arg(long)]
        once: bool,
        /// The driver confirmed with biometrics or passcode (CDCVM).
        #[arg(long)]
        cdcvm: bool,
        /// The terminal has a light background (the code is drawn dark-on-light).
        #[arg(long)]
        light_background: bool,
    },
    /// Act as the NFC card: serve APDUs on a Unix socket (u16 big-endian length-prefixed
    /// frames, one APDU per frame, one connection per tap).
    Hce {
        #[arg(long)]
        socket: PathBuf,
        /// The driver confirmed with biometrics or passcode (CDCVM).
        #[arg(long)]
        cdcvm: bool,
    },
}

type CliResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = tokio::select! {
        outcome = run(cli) => outcome,
        // Dropping `run` is safe: wallet writes are synchronous, so none is cut in half.
        _ = tokio::signal::ctrl_c() => {
            eprintln!();
            Ok(())
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("forecourt-wallet: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> CliResult {
    let mut ctx = commands::Context::open(&cli.server, &cli.wallet, cli.token.as_deref())?;
    match cli.command {
        Command::Login { email, password } => ctx.login(&email, &Zeroizing::new(password)).await,
        Command::Sync => ctx.sync_and_report().await,
        Command::Enrol { label } => ctx.enrol(&label).await,
        Command::Cards => ctx.cards().await,
        Command::Provision { card } => ctx.provision(&card).await,
        Command::Replenish => ctx.replenish().await,
        Command::Status => ctx.status(),
        Command::Qr { once: true, cdcvm, .. } => qr::once(&mut ctx, cdcvm).await,
        Command::Qr { once: false, cdcvm, light_background } => {
            let palette = match light_background {
                true => qr_draw::Palette::DarkOnLight,
                false => qr_draw::Palette::LightOnDark,
            };
            qr::live(&mut ctx, cdcvm, palette).await
        }
        Command::Hce { socket, cdcvm } => hce_socket::serve(&mut ctx, &socket, cdcvm).await,
    }
}
