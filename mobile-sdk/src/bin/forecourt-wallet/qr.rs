//! `qr`: QR payment data, drawn as a QR code (`qr_draw`) above a live countdown bar
//! (`PaymentWindow::countdown_text`, drawn by `countdown::render_bar`); when the data
//! expires a new code is made (a new ATC, a new cryptogram) and drawn in its place.

use std::io::Write;
use std::time::Duration;

use crate::commands::Context;
use crate::qr_draw::{self, Palette};
use crate::CliResult;

/// Cells of the countdown bar.
const BAR_WIDTH: usize = 40;
/// How often the bar is redrawn.
const TICK: Duration = Duration::from_millis(250);

/// Ready to pay: the clock synced and keys topped up if they run low.
async fn prepare(ctx: &mut Context) -> CliResult {
    ctx.ensure_synced().await?;
    ctx.replenish_if_low().await;
    Ok(())
}

/// One payload on stdout (so it can be piped to a terminal), its validity on stderr.
pub async fn once(ctx: &mut Context, cdcvm: bool) -> CliResult {
    prepare(ctx).await?;
    let (payload, window) = ctx.wallet.qr_payload(cdcvm)?;
    println!("{}", payload.as_str());
    eprintln!(
        "valid for {} s (until server time {} ms)",
        window.validity_ms / 1_000,
        window.expires_at_ms()
    );
    Ok(())
}

/// Payload after payload, each with its countdown, until ctrl-c.
pub async fn live(ctx: &mut Context, cdcvm: bool, palette: Palette) -> CliResult {
    loop {
        prepare(ctx).await?;
        let (payload, window) = ctx.wallet.qr_payload(cdcvm)?;
        let drawing = qr_draw::draw(payload.as_str(), palette)
            .ok_or("the payment data does not fit a QR code")?;
        drop(payload);
        // Clear the screen and home the cursor so each new code replaces the last.
        println!("\x1b[2J\x1b[HShow this at the pump:\n{drawing}\n");
        loop {
            let Ok(now) = ctx.wallet.now_ms() else {
                println!("\nthe clock can no longer be trusted: syncing again");
                break;
            };
            let line = window.countdown_text(now, BAR_WIDTH);
            print!("\r{line}   ");
            std::io::stdout().flush()?;
            if window.is_expired(now) {
                println!("\nexpired: making new payment data");
                break;
            }
            tokio::time::sleep(TICK).await;
        }
    }
}
