//! `register`: the operator's side in one go — log in, create a station and a terminal
//! there, and write the terminal's identity file (the secret is shown only once).

use std::path::Path;

use serde_json::json;

use crate::client::UserClient;
use crate::identity::Identity;
use crate::Result;

/// The station to create.
#[derive(Debug, Clone)]
pub struct StationSpec {
    pub name: String,
    pub merchant_id: String,
    pub lat_e6: i64,
    pub lon_e6: i64,
    pub time_zone: String,
    pub products: Vec<String>,
    pub terminal_label: String,
}

/// Registers a terminal and saves its identity to `path` (mode 0600, never overwritten).
pub async fn register(
    server: &str,
    email: &str,
    password: &str,
    spec: &StationSpec,
    path: &Path,
) -> Result<Identity> {
    if path.exists() {
        return Err(format!("{} exists; choose another --terminal file", path.display()).into());
    }
    let operator = UserClient::login(server, email, password).await?;
    let station = json!({"name": spec.name, "merchant_id": spec.merchant_id, "lat_e6": spec.lat_e6,
        "lon_e6": spec.lon_e6, "time_zone": spec.time_zone, "products": spec.products});
    let station = operator.post("/v1/stations", &station).await?.ok("creating the station")?;
    let station_id = station["id"].as_str().ok_or("station answer without id")?;
    let created = operator
        .post(
            &format!("/v1/stations/{station_id}/terminals"),
            &json!({"label": spec.terminal_label}),
        )
        .await?
        .ok("creating the terminal")?;
    let identity = Identity {
        server: server.trim_end_matches('/').to_owned(),
        terminal_id: created["terminal"]["id"]
            .as_str()
            .ok_or("terminal answer without terminal.id")?
            .to_owned(),
        secret_hex: created["secret"].as_str().ok_or("terminal answer without secret")?.to_owned(),
    };
    identity.secret()?;
    identity.save(path)?;
    println!("station {station_id} ({})", spec.name);
    println!("terminal {} saved to {}", identity.terminal_id, path.display());
    Ok(identity)
}
