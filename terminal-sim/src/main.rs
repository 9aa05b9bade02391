//! `forecourt-terminal`: the fuel terminal simulator. A thin wrapper: the logic lives in
//! the `terminal_sim` library where it is unit-tested.
//!
//! ```text
//! forecourt-terminal register --server http://127.0.0.1:8080 \
//!     --operator-email operator@forecourt.example --password forecourt-demo \
//!     --station-name "Autohof Nord" --terminal terminal.json
//! forecourt-terminal qr --terminal terminal.json "$(forecourt-wallet qr --once)" --amount 5000
//! forecourt-terminal nfc --terminal terminal.json /tmp/phone.sock --amount 5000
//! forecourt-terminal load --terminal terminal.json --wallets 4 --pumps 8 --seconds 30
//! forecourt-terminal load --terminal terminal.json --fleets 5 --wallets 400 \
//!     --cards-per-driver 10 --fund 1000000000 --rate 1000 --seconds 30
//! ```
//!
//! Exit codes: 0 done (completed or reversed), 1 an error, 2 bad input, 3 declined.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use terminal_sim::client::TerminalClient;
use terminal_sim::flow::{self, FillOptions, MessageId, Outcome, Payment, Preset};
use terminal_sim::identity::Identity;
use terminal_sim::load::mix::Mix;
use terminal_sim::load::setup::{Drivers, SetupOptions};
use terminal_sim::load::{self, Limit, LoadOptions};
use terminal_sim::nfc::{self, TerminalValues};
use terminal_sim::register::{self, StationSpec};

/// Exit code for input the terminal refuses; clap uses the same for a bad command line.
const EXIT_BAD_INPUT: u8 = 2;
/// Exit code of a declined fill.
const EXIT_DECLINED: u8 = 3;

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
    /// Log in as an operator, create a station and a terminal, and write the terminal
    /// file (mode 0600; the secret is shown only once).
    Register {
        #[arg(long, env = "FORECOURT_SERVER", default_value = "http://127.0.0.1:8080")]
        server: String,
        #[arg(long, default_value = "operator@forecourt.example")]
        operator_email: String,
        #[arg(long, env = "FORECOURT_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long)]
        station_name: String,
        #[arg(long, default_value = "M-0001")]
        merchant_id: String,
        /// Latitude in millionths of a degree.
        #[arg(long, default_value_t = 53_551_086, allow_negative_numbers = true)]
        lat_e6: i64,
        /// Longitude in millionths of a degree.
        #[arg(long, default_value_t = 9_993_682, allow_negative_numbers = true)]
        lon_e6: i64,
        #[arg(long, default_value = "Europe/Berlin")]
        time_zone: String,
        /// Products the station sells, comma separated.
        #[arg(long, default_value = "diesel,adblue", value_delimiter = ',')]
        products: Vec<String>,
        #[arg(long, default_value = "Pump island 1")]
        label: String,
        /// Where to write the terminal file (must not exist).
        #[arg(long)]
        terminal: PathBuf,
    },
    /// Pay with a scanned QR payload: pre-authorize, dispense, complete.
    Qr {
        #[command(flatten)]
        fill: FillArgs,
        /// The QR payload (base64 text, `hQVDUFYw…`).
        payload: String,
    },
    /// Tap the phone over its HCE socket (`forecourt-wallet hce --socket PATH`), then
    /// pre-authorize, dispense, complete.
    Nfc {
        #[command(flatten)]
        fill: FillArgs,
        /// The wallet's Unix socket.
        socket: PathBuf,
    },
    /// Load benchmark: N phones made in process (in F fleets), M pumps in parallel or
    /// fills at a fixed rate.
    Load {
        #[arg(long, env = "FORECOURT_TERMINAL")]
        terminal: PathBuf,
        /// Phones (each holding one card's token); per fleet with `--fleets`.
        #[arg(long, default_value_t = 2)]
        wallets: usize,
        /// Closed loop: pumps running fills back to back.
        #[arg(long, default_value_t = 2)]
        pumps: usize,
        /// Open loop instead: pre-authorizations started per second, evenly spread; the
        /// latency counts from each fill's scheduled start.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        rate: Option<u64>,
        /// The operator creates this many fleets (org, owner, drivers, cards) for the run.
        #[arg(long, conflicts_with_all = ["drivers", "owner_email"],
              value_parser = clap::value_parser!(u64).range(1..10_000))]
        fleets: Option<u64>,
        /// Cards (each on its own phone) per created driver: fewer drivers to activate.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=1_000))]
        cards_per_driver: u64,
        /// Share of fills paid by NFC (GPO over the PDOL data) instead of QR, percent.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=100))]
        nfc_percent: u64,
        /// Share of fills reversed after the pre-authorization instead of completed.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(0..=100))]
        reversal_percent: u64,
        /// Share of fills offering a product the card does not allow (declined 57); needs
        /// `--fleets` or `--owner-email`.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(0..=100))]
        decline_percent: u64,
        /// Setup requests (drivers, phones) at once.
        #[arg(long, default_value_t = 16)]
        setup_concurrency: usize,
        /// Run this long.
        #[arg(long, conflicts_with = "fills", required_unless_present = "fills")]
        seconds: Option<u64>,
        /// Run this many fills.
        #[arg(long)]
        fills: Option<u64>,
        /// Drivers whose phones pay (comma separated), used in turn.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "anna@demo-taxi.example,boris@demo-taxi.example"
        )]
        drivers: Vec<String>,
        /// The drivers' password.
        #[arg(long, env = "FORECOURT_PASSWORD", default_value = "forecourt-demo")]
        password: String,
        /// Amount each fill is preset to, minor units.
        #[arg(long, default_value_t = 5_000)]
        amount: i64,
        /// Price per litre, thousandths of a minor unit.
        #[arg(long, default_value_t = 179_900)]
        unit_price: i64,
        #[arg(long, default_value = "diesel")]
        product: String,
        /// Credit each fleet account with this much first (logs in as operator).
        #[arg(long)]
        fund: Option<i64>,
        #[arg(long, default_value = "operator@forecourt.example")]
        operator_email: String,
        /// The operator's password for `--fleets` and `--fund` (default: `--password`).
        #[arg(long)]
        operator_password: Option<String>,
        /// Create one new driver with a new card per wallet as this owner, instead of
        /// logging in as `--drivers`.
        #[arg(long, conflicts_with = "drivers")]
        owner_email: Option<String>,
        /// The owner's password (default: `--password`).
        #[arg(long)]
        owner_password: Option<String>,
    },
}

/// The pump's settings for one fill.
#[derive(Args)]
struct FillArgs {
    /// The terminal file written by `register`.
    #[arg(long, env = "FORECOURT_TERMINAL")]
    terminal: PathBuf,
    /// Preset amount, minor units (default 5000 when no volume is given).
    #[arg(long, conflicts_with = "volume_ml")]
    amount: Option<i64>,
    /// Preset volume, millilitres.
    #[arg(long)]
    volume_ml: Option<i64>,
    /// The pump can stop at a partial approval.
    #[arg(long)]
    partial: bool,
    /// Share of the approval dispensed, per mille (1000 = all of it).
    #[arg(long, default_value_t = flow::DEFAULT_DISPENSE_PERMILLE,
          value_parser = clap::value_parser!(u32).range(0..=1000))]
    dispense: u32,
    /// Send a reversal instead of the completion (the driver cancelled).
    #[arg(long)]
    cancel: bool,
    #[arg(long, default_value_t = 1)]
    pump: u16,
    /// Products the pump offers, comma separated, dearest first.
    #[arg(long, default_value = "diesel", value_delimiter = ',')]
    products: Vec<String>,
    /// Price per litre of the dearest product, thousandths of a minor unit.
    #[arg(long, default_value_t = 179_900)]
    unit_price: i64,
    #[arg(long)]
    odometer_km: Option<i64>,
}

impl FillArgs {
    fn options(&self) -> FillOptions {
        let preset = match (self.amount, self.volume_ml) {
            (_, Some(v)) => Preset::VolumeMl(v),
            (Some(a), None) => Preset::Amount(a),
            (None, None) => Preset::Amount(5_000),
        };
        FillOptions {
            pump: self.pump,
            products: self.products.clone(),
            preset,
            unit_price: self.unit_price,
            partial_supported: self.partial,
            dispense_permille: self.dispense,
            cancel: self.cancel,
            odometer_km: self.odometer_km,
        }
    }
}

fn fail(error: impl std::fmt::Display) -> ExitCode {
    eprintln!("forecourt-terminal: {error}");
    ExitCode::FAILURE
}

fn client(path: &Path) -> terminal_sim::Result<(Identity, TerminalClient)> {
    let identity = Identity::load(path)?;
    let client = TerminalClient::new(&identity)?;
    Ok((identity, client))
}

fn exit_for(outcome: &Outcome) -> ExitCode {
    match outcome {
        Outcome::Declined { .. } => ExitCode::from(EXIT_DECLINED),
        _ => ExitCode::SUCCESS,
    }
}

fn message_id() -> MessageId {
    MessageId::new(rand::random::<u64>())
}

#[tokio::main]
async fn main() -> ExitCode {
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
        Command::Register {
            server,
            operator_email,
            password,
            station_name,
            merchant_id,
            lat_e6,
            lon_e6,
            time_zone,
            products,
            label,
            terminal,
        } => {
            let spec = StationSpec {
                name: station_name,
                merchant_id,
                lat_e6,
                lon_e6,
                time_zone,
                products,
                terminal_label: label,
            };
            match register::register(&server, &operator_email, &password, &spec, &terminal).await {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => fail(e),
            }
        }
        Command::Qr { fill, payload } => {
            if let Err(error) = terminal_sim::inspect(&payload) {
                eprintln!("forecourt-terminal: {error}");
                return ExitCode::from(EXIT_BAD_INPUT);
            }
            let (_, client) = match client(&fill.terminal) {
                Ok(c) => c,
                Err(e) => return fail(e),
            };
            let payment = Payment::Qr(payload.trim().to_owned());
            match flow::run_fill(&client, &fill.options(), &payment, &message_id()).await {
                Ok(outcome) => exit_for(&outcome),
                Err(e) => fail(e),
            }
        }
        Command::Nfc { fill, socket } => {
            let (_, client) = match client(&fill.terminal) {
                Ok(c) => c,
                Err(e) => return fail(e),
            };
            let opts = fill.options();
            let preset_amount = match opts.preset {
                Preset::Amount(a) => a,
                // The amount the pump would charge for the preset volume.
                Preset::VolumeMl(v) => (v * opts.unit_price + 999_999) / 1_000_000,
            };
            let values = TerminalValues::now(u64::try_from(preset_amount).unwrap_or(0));
            let start = std::time::Instant::now();
            let tapped = match nfc::tap(&socket, &values).await {
                Ok(t) => t,
                Err(e) => return fail(format!("tap: {e}")),
            };
            println!(
                "tap: AID {} token …{} ATC {} ({} ms)",
                hex::encode_upper(&tapped.aid),
                tapped.summary.last4,
                tapped.summary.atc,
                start.elapsed().as_millis()
            );
            let payment = Payment::Nfc {
                gpo_response: tapped.gpo_response_hex,
                pdol_data: tapped.pdol_data_hex,
            };
            match flow::run_fill(&client, &opts, &payment, &message_id()).await {
                Ok(outcome) => exit_for(&outcome),
                Err(e) => fail(e),
            }
        }
        Command::Load {
            terminal,
            wallets,
            pumps,
            rate,
            fleets,
            cards_per_driver,
            nfc_percent,
            reversal_percent,
            decline_percent,
            setup_concurrency,
            seconds,
            fills,
            drivers,
            password,
            amount,
            unit_price,
            product,
            fund,
            operator_email,
            operator_password,
            owner_email,
            owner_password,
        } => {
            let (identity, client) = match client(&terminal) {
                Ok(c) => c,
                Err(e) => return fail(e),
            };
            let limit = match (seconds, fills) {
                (Some(s), _) => Limit::Seconds(s),
                (None, Some(k)) => Limit::Fills(k),
                (None, None) => return fail("give --seconds or --fills"),
            };
            let operator_password = operator_password.unwrap_or_else(|| password.clone());
            let owner_password = owner_password.unwrap_or_else(|| password.clone());
            let mix = match Mix::new(nfc_percent, reversal_percent, decline_percent) {
                Ok(mix) => mix,
                Err(e) => {
                    eprintln!("forecourt-terminal: {e}");
                    return ExitCode::from(EXIT_BAD_INPUT);
                }
            };
            let drivers = match (fleets, owner_email) {
                (Some(f), _) => Drivers::Fleets(usize::try_from(f).unwrap_or(1)),
                (None, Some(email)) => Drivers::Owner { email, password: owner_password },
                (None, None) => Drivers::Existing { emails: drivers, password },
            };
            let opts = LoadOptions {
                setup: SetupOptions {
                    drivers,
                    wallets,
                    cards_per_driver: usize::try_from(cards_per_driver).unwrap_or(1),
                    operator: (operator_email, operator_password),
                    fund,
                    restrict_to: None,
                    concurrency: setup_concurrency,
                },
                pumps,
                limit,
                rate,
                amount,
                unit_price,
                product,
                mix,
            };
            match load::run(&identity.server, client, &opts).await {
                Ok(stats) if stats.errors == 0 => ExitCode::SUCCESS,
                Ok(stats) => fail(format!("{} requests failed", stats.errors)),
                Err(e) => fail(e),
            }
        }
    }
}
