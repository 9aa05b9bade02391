use crate::StoreError;

/// Which database a URL names. The differences that matter to us are few: how to open a
/// write transaction, pool sizing, and the migrations directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// SQLite serialises writers anyway; a few connections let reads run beside a write.
const SQLITE_MAX_CONNECTIONS: u32 = 4;
const POSTGRES_MAX_CONNECTIONS: u32 = 16;

impl Backend {
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(StoreError::Corrupt(
                "database URL must start with sqlite: or postgres://".to_owned(),
            ))
        }
    }

    /// The database a sqlx connection talks to.
    pub(super) fn of(conn: &sqlx::AnyConnection) -> Self {
        match conn.backend_name() {
            "PostgreSQL" => Self::Postgres,
            _ => Self::Sqlite,
        }
    }

    /// SQLite files are created on first use.
    pub(super) fn normalise_url(self, url: &str) -> String {
        match self {
            Self::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_owned(),
        }
    }

    pub(super) fn max_connections(self) -> u32 {
        match self {
            Self::Sqlite => SQLITE_MAX_CONNECTIONS,
            Self::Postgres => POSTGRES_MAX_CONNECTIONS,
        }
    }

    /// Row lock for read-then-write inside a transaction. SQLite needs none: a write
    /// transaction (`BEGIN IMMEDIATE`) already holds the database's single write lock.
    pub(super) fn for_update(self) -> &'static str {
        match self {
            Self::Sqlite => "",
            Self::Postgres => " FOR UPDATE",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}
