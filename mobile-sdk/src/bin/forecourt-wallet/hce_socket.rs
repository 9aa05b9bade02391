//! `hce`: the phone as an NFC card on a Unix socket, for the terminal simulator.
//!
//! Framing (both directions): a 2-byte big-endian length, then that many bytes. The
//! terminal sends one command APDU per frame; the phone answers each with one frame
//! holding the response APDU (data ‖ SW1 SW2). One connection is one tap: a new
//! connection starts a new card session (nothing selected). Frames longer than a short
//! APDU (261 bytes) or empty close the connection. The socket file is made mode 0600 and
//! removed on exit.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use mobile_sdk::HceSession;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

use crate::commands::Context;
use crate::CliResult;

/// Longest short command APDU: header 4, Lc 1, data 255, Le 1.
const MAX_FRAME: usize = 4 + 1 + 255 + 1;
/// While no terminal connects, how often to check that the clock is still good, so a
/// phone left waiting for hours is synced when the tap comes.
const IDLE_CHECK: Duration = Duration::from_secs(600);

/// Removes the socket file when the server stops, however it stops.
struct SocketFile(PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

pub async fn serve(ctx: &mut Context, path: &Path, cdcvm: bool) -> CliResult {
    remove_stale_socket(path)?;
    let listener = UnixListener::bind(path)?;
    let _cleanup = SocketFile(path.to_owned());
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    eprintln!("card ready on {} (one connection per tap; ctrl-c to stop)", path.display());
    loop {
        // Before the tap, not during it: a terminal waits a few hundred ms at most.
        ctx.ensure_synced().await?;
        ctx.replenish_if_low().await;
        let Ok(accepted) = tokio::time::timeout(IDLE_CHECK, listener.accept()).await else {
            continue;
        };
        let (stream, _) = accepted?;
        if let Err(e) = tap(ctx, stream, cdcvm).await {
            eprintln!("tap ended: {e}");
        }
    }
}

/// A socket file left by an earlier run is removed; any other file is left alone.
fn remove_stale_socket(path: &Path) -> CliResult {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => Ok(fs::remove_file(path)?),
        Ok(_) => Err(format!("{} exists and is not a socket", path.display()).into()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn tap(ctx: &mut Context, mut stream: UnixStream, cdcvm: bool) -> CliResult {
    let mut session = HceSession::new(&mut ctx.wallet, cdcvm);
    while let Some(command) = read_frame(&mut stream).await? {
        let response = zeroize::Zeroizing::new(session.process(&command));
        log_exchange(&command, &response, &session);
        write_frame(&mut stream, &response).await?;
    }
    Ok(())
}

/// One line per APDU: instruction and status word only (the answer holds secrets).
fn log_exchange<S, C>(command: &[u8], response: &[u8], session: &HceSession<'_, S, C>)
where
    S: mobile_sdk::SecureStore,
    C: mobile_sdk::DeviceClock,
{
    let ins = command.get(1).copied().unwrap_or_default();
    let sw = response.get(response.len().saturating_sub(2)..).map(hex::encode_upper);
    let mut line = format!("APDU INS {ins:02X} → SW {}", sw.unwrap_or_default());
    if let (0xA8, Some(error)) = (ins, session.last_error()) {
        line.push_str(&format!(" ({error})"));
    } else if let (0xA8, Some(window)) = (ins, session.last_window()) {
        line.push_str(&format!(" (payment data valid {} s)", window.validity_ms / 1_000));
    }
    eprintln!("{line}");
}

/// The next frame, or `None` when the terminal closed the connection between frames.
async fn read_frame(stream: &mut UnixStream) -> CliResult<Option<Vec<u8>>> {
    let mut header = [0u8; 2];
    match stream.read_exact(&mut header).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = usize::from(u16::from_be_bytes(header));
    if len == 0 || len > MAX_FRAME {
        return Err(format!("frame of {len} bytes is not a short APDU").into());
    }
    let mut frame = vec![0u8; len];
    stream.read_exact(&mut frame).await?;
    Ok(Some(frame))
}

async fn write_frame(stream: &mut UnixStream, bytes: &[u8]) -> CliResult {
    let len = u16::try_from(bytes.len()).map_err(|_| "response too long for a frame")?;
    stream.write_all(&len.to_be_bytes()).await?;
    stream.write_all(bytes).await?;
    Ok(stream.flush().await?)
}
