//! `forecourt-terminal`: the fuel terminal simulator. A thin wrapper: the logic lives in
//! the `terminal_sim` library where it is unit-tested.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Exit code for input the terminal refuses; clap uses the same for a bad command line.
const EXIT_BAD_INPUT: u8 = 2;

#[derive(Parser)]
#[command(name = "forecourt-terminal", version, about = "Forecourt fuel terminal simulator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode an EMV CPM QR payload and show what the terminal reads, token and
    /// cryptogram masked.
    InspectQr {
        /// The base64 text the phone shows (starts `hQVDUFYw`).
        payload: String,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::InspectQr { payload } => match terminal_sim::inspect(&payload) {
            Ok(inspection) => {
                print!("{inspection}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("forecourt-terminal: {error}");
                ExitCode::from(EXIT_BAD_INPUT)
            }
        },
    }
}
