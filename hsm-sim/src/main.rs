//! `forecourt-hsm`: key ceremony and checks for the HSM simulator's key store.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hsm_sim::{Component, Engine, HsmError, Request, Response};

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
    },
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Init { dir, components } => init(&dir, usize::from(components)),
        Command::Check { dir, components } => check(&dir, &components),
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
fn init(dir: &std::path::Path, n: usize) -> Result<(), HsmError> {
    let report = hsm_sim::init(dir, n)?;
    println!("Created {}", report.store_path.display());
    println!("Give each component to a different custodian; it is shown only this once.");
    for (i, c) in report.components.iter().enumerate() {
        println!("component {}: {}  KCV {}", i + 1, c.to_hex().as_str(), c.kcv());
    }
    println!("LMK KCV: {}", report.lmk_kcv);
    Ok(())
}

fn check(dir: &std::path::Path, hex: &[String]) -> Result<(), HsmError> {
    let components = hex.iter().map(|h| Component::parse_hex(h)).collect::<Result<Vec<_>, _>>()?;
    let engine = Engine::open(dir, &components)?;
    let Response::Health(report) = engine.execute(Request::Health)? else {
        return Err(HsmError::Unavailable("unexpected answer to health".into()));
    };
    println!("status: {}", report.status);
    println!("LMK KCV: {}", report.lmk_kcv);
    println!("keys: {}", report.key_count);
    Ok(())
}
