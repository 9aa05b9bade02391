//! The terminal's identity file (`--terminal FILE`): the server, the terminal id and the
//! secret shown once at registration. JSON, mode 0600: refused when group or others may
//! read it, since the secret signs every request (docs/TERMINAL-API.md).

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use emv::terminal_auth::SECRET_LEN;
use serde::{Deserialize, Serialize};

use crate::Result;

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// Base URL of the server, e.g. `http://127.0.0.1:8080`.
    pub server: String,
    pub terminal_id: String,
    /// The 32-byte secret as 64 hex digits.
    pub secret_hex: String,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("server", &self.server)
            .field("terminal_id", &self.terminal_id)
            .field("secret_hex", &"<redacted>")
            .finish()
    }
}

impl Identity {
    /// Reads the file, refusing one that group or others may read.
    pub fn load(path: &Path) -> Result<Identity> {
        let meta = fs::metadata(path)
            .map_err(|e| format!("cannot read terminal file {}: {e}", path.display()))?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(format!(
                "terminal file {} is readable by others; `chmod 600` it",
                path.display()
            )
            .into());
        }
        let text = fs::read_to_string(path)?;
        let identity: Identity = serde_json::from_str(&text)
            .map_err(|e| format!("malformed terminal file {}: {e}", path.display()))?;
        identity.secret()?;
        Ok(identity)
    }

    /// Writes a new file with mode 0600; never overwrites one (its secret would be lost).
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| format!("cannot create terminal file {}: {e}", path.display()))?;
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        Ok(())
    }

    /// The raw secret.
    pub fn secret(&self) -> Result<[u8; SECRET_LEN]> {
        let bytes = hex::decode(&self.secret_hex).map_err(|_| "secret_hex is not hex")?;
        bytes.try_into().map_err(|_| "secret_hex must be 64 hex digits (32 bytes)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity {
            server: "http://127.0.0.1:1".into(),
            terminal_id: "01937c4e-8f3a-7b2c-9d4e-5f6a7b8c9d0e".into(),
            secret_hex: "c0".repeat(32),
        }
    }

    #[test]
    fn saved_with_mode_0600_loads_back_and_is_never_overwritten() {
        let dir = std::env::temp_dir().join(format!("tsim-id-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("terminal.json");
        let _ = fs::remove_file(&path);
        identity().save(&path).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(Identity::load(&path).unwrap(), identity());
        assert!(identity().save(&path).is_err(), "an existing file is kept");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = Identity::load(&path).unwrap_err().to_string();
        assert!(err.contains("readable by others"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn debug_hides_the_secret_and_a_bad_secret_is_refused() {
        assert!(!format!("{:?}", identity()).contains("c0c0"));
        let mut short = identity();
        short.secret_hex = "c0".repeat(31);
        assert!(short.secret().is_err());
    }
}
