//! One fill at a pump: pre-authorization → dispense (never above the approval) →
//! completion, or a reversal instead of the completion (`--cancel`).

use std::time::Instant;

use serde_json::{json, Value};

use crate::client::{Answer, TerminalClient};
use crate::Result;

/// Path of the pre-authorization.
pub const AUTHORIZATIONS: &str = "/v1/terminal/authorizations";
/// Default share dispensed of the approval, per mille.
pub const DEFAULT_DISPENSE_PERMILLE: u32 = 900;
/// Millilitres per litre times thousandths per minor unit: `unit_price` is thousandths of
/// a minor unit per litre, so `amount = volume_ml * unit_price / PRICE_SCALE`.
const PRICE_SCALE: i64 = 1_000_000;

/// What the pump is preset to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    Amount(i64),
    VolumeMl(i64),
}

/// How the phone's payment data reached the terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payment {
    Qr(String),
    /// Hex of the GET PROCESSING OPTIONS answer (without status word) and of the PDOL data.
    Nfc {
        gpo_response: String,
        pdol_data: String,
    },
}

/// The pump's side of a fill.
#[derive(Debug, Clone)]
pub struct FillOptions {
    pub pump: u16,
    /// Products the pump offers, dearest first.
    pub products: Vec<String>,
    pub preset: Preset,
    /// Thousandths of a minor unit per litre (179900 = 1.799 per litre).
    pub unit_price: i64,
    pub partial_supported: bool,
    /// How much of the approval is dispensed, per mille (1000 = all of it).
    pub dispense_permille: u32,
    /// Send a reversal instead of the completion.
    pub cancel: bool,
    pub odometer_km: Option<i64>,
}

impl Default for FillOptions {
    fn default() -> Self {
        FillOptions {
            pump: 1,
            products: vec!["diesel".into()],
            preset: Preset::Amount(5_000),
            unit_price: 179_900,
            partial_supported: false,
            dispense_permille: DEFAULT_DISPENSE_PERMILLE,
            cancel: false,
            odometer_km: None,
        }
    }
}

/// A message identity: STAN and transmission time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageId {
    pub stan: String,
    pub transmitted_at: String,
}

impl MessageId {
    /// A STAN of 6 digits from `seq` and the current time (RFC 3339).
    pub fn new(seq: u64) -> MessageId {
        let transmitted_at = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        MessageId { stan: format!("{:06}", seq % 1_000_000), transmitted_at }
    }
}

/// The body of `POST /v1/terminal/authorizations`.
pub fn authorization_body(opts: &FillOptions, payment: &Payment, id: &MessageId) -> Value {
    let mut body = json!({
        "stan": id.stan,
        "transmitted_at": id.transmitted_at,
        "pump": opts.pump,
        "products": opts.products,
        "unit_price": opts.unit_price,
        "partial_supported": opts.partial_supported,
    });
    match payment {
        Payment::Qr(qr) => {
            body["entry_mode"] = json!("qr");
            body["qr"] = json!(qr.trim());
        }
        Payment::Nfc { gpo_response, pdol_data } => {
            body["entry_mode"] = json!("nfc");
            body["nfc"] = json!({"gpo_response": gpo_response, "pdol_data": pdol_data});
        }
    }
    match opts.preset {
        Preset::Amount(a) => body["amount"] = json!(a),
        Preset::VolumeMl(v) => body["volume_ml"] = json!(v),
    }
    if let Some(km) = opts.odometer_km {
        body["odometer_km"] = json!(km);
    }
    body
}

/// The fields of the pre-authorization answer the pump needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    pub authorization_id: String,
    pub approved: bool,
    pub partial: bool,
    pub response_code: String,
    pub reason: Option<String>,
    pub message: String,
    pub approved_amount: i64,
    pub approved_volume_ml: i64,
    pub allowed_products: Vec<String>,
    pub hold_expires_at: Option<String>,
}

impl Approval {
    /// Reads the answer; fails when a field the pump relies on is missing.
    pub fn parse(body: &Value) -> Result<Approval> {
        let text = |k: &str| body[k].as_str().map(str::to_owned);
        let missing = |k: &str| format!("authorization answer without `{k}`: {body}");
        Ok(Approval {
            authorization_id: text("authorization_id")
                .ok_or_else(|| missing("authorization_id"))?,
            approved: body["approved"].as_bool().ok_or_else(|| missing("approved"))?,
            partial: body["partial"].as_bool().unwrap_or(false),
            response_code: text("response_code").ok_or_else(|| missing("response_code"))?,
            reason: text("reason"),
            message: text("message").unwrap_or_default(),
            approved_amount: body["approved_amount"].as_i64().unwrap_or(0),
            approved_volume_ml: body["approved_volume_ml"].as_i64().unwrap_or(0),
            allowed_products: body["allowed_products"]
                .as_array()
                .map(|a| a.iter().filter_map(|p| p.as_str().map(str::to_owned)).collect())
                .unwrap_or_default(),
            hold_expires_at: text("hold_expires_at"),
        })
    }
}

/// What the pump delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispensed {
    pub amount: i64,
    pub volume_ml: i64,
    pub product: String,
}

/// The fill the pump delivers for `approval`: `permille` of the approved amount (or, on a
/// volume preset, of the approved volume), priced at `unit_price`; never more than the
/// approved amount, also after rounding. The product is the first offered one the card
/// allows (the first offered when the answer names none).
pub fn dispense(opts: &FillOptions, approval: &Approval) -> Dispensed {
    let permille = i64::from(opts.dispense_permille.min(1_000));
    let price = opts.unit_price.max(1);
    let (amount, volume_ml) = match opts.preset {
        Preset::VolumeMl(_) if approval.approved_volume_ml > 0 => {
            let volume = approval.approved_volume_ml * permille / 1_000;
            let amount = (volume * price + PRICE_SCALE / 2) / PRICE_SCALE;
            (amount.min(approval.approved_amount), volume)
        }
        _ => {
            let amount = approval.approved_amount * permille / 1_000;
            (amount, amount * PRICE_SCALE / price)
        }
    };
    let product = opts
        .products
        .iter()
        .find(|p| approval.allowed_products.is_empty() || approval.allowed_products.contains(p))
        .or(opts.products.first())
        .cloned()
        .unwrap_or_else(|| "diesel".into());
    Dispensed { amount, volume_ml, product }
}

/// How a fill ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Completed { authorization_id: String, amount: i64 },
    Reversed { authorization_id: String },
    Declined { response_code: String, reason: String },
}

/// Elapsed milliseconds, integer.
fn ms(start: Instant) -> u128 {
    start.elapsed().as_millis()
}

/// Runs one fill, printing each step with its latency.
pub async fn run_fill(
    client: &TerminalClient,
    opts: &FillOptions,
    payment: &Payment,
    id: &MessageId,
) -> Result<Outcome> {
    let body = authorization_body(opts, payment, id);
    let start = Instant::now();
    let answer = client.post(AUTHORIZATIONS, &body).await?;
    let elapsed = ms(start);
    let approval = Approval::parse(&answer.ok("pre-authorization")?)?;
    if !approval.approved {
        let reason = approval.reason.clone().unwrap_or_default();
        println!(
            "pre-authorization: DECLINED {} {reason} ({} ms)\n  {}",
            approval.response_code, elapsed, approval.message
        );
        return Ok(Outcome::Declined { response_code: approval.response_code, reason });
    }
    println!(
        "pre-authorization: approved {} {}amount {} volume {} ml, products {} ({} ms)",
        approval.response_code,
        if approval.partial { "PARTIAL " } else { "" },
        approval.approved_amount,
        approval.approved_volume_ml,
        approval.allowed_products.join(","),
        elapsed
    );
    if !approval.message.is_empty() {
        println!("  {}", approval.message);
    }
    println!("authorization {}", approval.authorization_id);
    let path = format!("{AUTHORIZATIONS}/{}", approval.authorization_id);
    if opts.cancel {
        let start = Instant::now();
        let answer = client.post(&format!("{path}/reversal"), &json!({})).await?;
        let elapsed = ms(start);
        let done = answer.ok("reversal")?;
        println!("reversal: {} ({} ms)", done["status"].as_str().unwrap_or("?"), elapsed);
        return Ok(Outcome::Reversed { authorization_id: approval.authorization_id });
    }
    let fill = dispense(opts, &approval);
    println!(
        "dispensed: amount {} volume {} ml {} ({}‰ of the approval)",
        fill.amount, fill.volume_ml, fill.product, opts.dispense_permille
    );
    let start = Instant::now();
    let body = json!({"amount": fill.amount, "volume_ml": fill.volume_ml, "product": fill.product});
    let answer: Answer = client.post(&format!("{path}/completion"), &body).await?;
    let elapsed = ms(start);
    let done = answer.ok("completion")?;
    println!(
        "completion: {} final amount {} ({} ms)",
        done["status"].as_str().unwrap_or("?"),
        done["final_amount"].as_i64().unwrap_or(fill.amount),
        elapsed
    );
    Ok(Outcome::Completed { authorization_id: approval.authorization_id, amount: fill.amount })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approval(amount: i64, volume_ml: i64, products: &[&str]) -> Approval {
        Approval {
            authorization_id: "a".into(),
            approved: true,
            partial: false,
            response_code: "00".into(),
            reason: None,
            message: String::new(),
            approved_amount: amount,
            approved_volume_ml: volume_ml,
            allowed_products: products.iter().map(|p| (*p).to_owned()).collect(),
            hold_expires_at: None,
        }
    }

    #[test]
    fn dispense_takes_the_share_of_the_approval_priced_at_the_unit_price() {
        let opts = FillOptions::default();
        let fill = dispense(&opts, &approval(10_000, 55_586, &["diesel"]));
        // 9000 minor units at 1.799 per litre = 50.027 l.
        assert_eq!(fill, Dispensed { amount: 9_000, volume_ml: 50_027, product: "diesel".into() });
        let all = FillOptions { dispense_permille: 1_000, ..FillOptions::default() };
        assert_eq!(dispense(&all, &approval(5_000, 0, &[])).amount, 5_000);
        let more = FillOptions { dispense_permille: 5_000, ..FillOptions::default() };
        assert_eq!(dispense(&more, &approval(5_000, 0, &[])).amount, 5_000, "capped at 1000‰");
    }

    #[test]
    fn a_volume_preset_dispenses_volume_and_never_charges_above_the_approval() {
        let opts = FillOptions {
            preset: Preset::VolumeMl(40_000),
            dispense_permille: 1_000,
            ..FillOptions::default()
        };
        // A partial approval of 5000 whose volume would round up to 5001.
        let fill = dispense(&opts, &approval(5_000, 27_797, &["diesel"]));
        assert_eq!((fill.amount, fill.volume_ml), (5_000, 27_797));
        let half = FillOptions { dispense_permille: 500, ..opts };
        assert_eq!(dispense(&half, &approval(7_196, 40_000, &[])).amount, 3_598);
    }

    #[test]
    fn the_product_is_the_first_offered_that_the_card_allows() {
        let opts = FillOptions {
            products: vec!["diesel_premium".into(), "diesel".into()],
            ..FillOptions::default()
        };
        assert_eq!(dispense(&opts, &approval(1, 0, &["diesel"])).product, "diesel");
        assert_eq!(dispense(&opts, &approval(1, 0, &[])).product, "diesel_premium");
    }

    #[test]
    fn bodies_carry_exactly_one_payment_and_one_preset() {
        let id = MessageId { stan: "000042".into(), transmitted_at: "2026-11-23T12:00:00Z".into() };
        let qr = authorization_body(&FillOptions::default(), &Payment::Qr("hQVD\n".into()), &id);
        assert_eq!(qr["entry_mode"], "qr");
        assert_eq!(qr["qr"], "hQVD");
        assert_eq!(qr["amount"], 5_000);
        assert!(qr.get("nfc").is_none() && qr.get("volume_ml").is_none());
        let opts = FillOptions {
            preset: Preset::VolumeMl(30_000),
            odometer_km: Some(12),
            ..FillOptions::default()
        };
        let nfc = Payment::Nfc { gpo_response: "77".into(), pdol_data: "00".into() };
        let body = authorization_body(&opts, &nfc, &id);
        assert_eq!(body["nfc"]["gpo_response"], "77");
        assert_eq!(
            (body["volume_ml"].as_i64(), body["odometer_km"].as_i64()),
            (Some(30_000), Some(12))
        );
        assert!(body.get("qr").is_none() && body.get("amount").is_none());
    }

    #[test]
    fn answers_parse_and_missing_fields_are_named() {
        let body = json!({"authorization_id": "x", "approved": false, "partial": false,
            "response_code": "51", "reason": "INSUFFICIENT_FUNDS", "message": "low",
            "approved_amount": 0, "approved_volume_ml": 0, "allowed_products": [], "hold_expires_at": null});
        let a = Approval::parse(&body).unwrap();
        assert_eq!((a.approved, a.reason.as_deref()), (false, Some("INSUFFICIENT_FUNDS")));
        let err = Approval::parse(&json!({"approved": true})).unwrap_err().to_string();
        assert!(err.contains("authorization_id"), "{err}");
    }
}
