//! Where the server's secret key comes from, decided once at start: the key given
//! (`PORTICO_SECRET_KEY`), a key file given (`--secret-key-file`, created when
//! missing), or on SQLite `portico.key` beside the database file, created on the
//! first start. On PostgreSQL nothing is generated: every instance must hold the
//! same key, so the operator gives it; without one, alert targets cannot be set up.

use std::path::{Path, PathBuf};

use crate::db::DatabaseUrl;
use crate::domain::sealing::SecretKey;

/// Where the key came from, for the start-up log line (never the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Given,
    File { path: PathBuf, created: bool },
    Missing,
}

impl KeySource {
    /// Says at start where the key came from (never the key itself).
    pub fn log(&self) {
        match self {
            KeySource::Given => tracing::info!("secret key from PORTICO_SECRET_KEY"),
            KeySource::File {
                path,
                created: true,
            } => tracing::info!(
                path = %path.display(),
                "created the secret key file (back it up apart from the database)"
            ),
            KeySource::File {
                path,
                created: false,
            } => {
                tracing::info!(path = %path.display(), "secret key file read")
            }
            KeySource::Missing => tracing::warn!(
                "no secret key: alert targets cannot be set up; give every instance the same \
                 --secret-key-file or PORTICO_SECRET_KEY"
            ),
        }
    }
}

/// The key file beside a SQLite database at `db_path`.
pub fn beside(db_path: &str) -> PathBuf {
    let db = Path::new(db_path);
    let dir = db.parent().filter(|p| !p.as_os_str().is_empty());
    dir.unwrap_or(Path::new(".")).join("portico.key")
}

/// The server's secret key for `url`, from `value` or `file` when given.
pub fn resolve(
    url: &DatabaseUrl,
    value: Option<&str>,
    file: Option<&Path>,
) -> anyhow::Result<(Option<SecretKey>, KeySource)> {
    if let Some(text) = value {
        let key = SecretKey::parse(text)
            .map_err(|e| anyhow::anyhow!("PORTICO_SECRET_KEY {e} (32 bytes, base64 or hex)"))?;
        return Ok((Some(key), KeySource::Given));
    }
    let path = match (file, url) {
        (Some(f), _) => f.to_path_buf(),
        (None, DatabaseUrl::Sqlite(db)) => beside(db),
        (None, DatabaseUrl::Postgres(_)) => return Ok((None, KeySource::Missing)),
    };
    let (key, created) = SecretKey::load_or_create(&path)?;
    Ok((Some(key), KeySource::File { path, created }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_keeps_its_key_beside_the_database_postgres_needs_one_given() {
        assert_eq!(
            beside("./data/portico.db"),
            PathBuf::from("./data/portico.key")
        );
        assert_eq!(beside("portico.db"), PathBuf::from("./portico.key"));
        let pg = DatabaseUrl::parse("postgres://p@localhost/db").unwrap();
        let (key, source) = resolve(&pg, None, None).unwrap();
        assert!(key.is_none());
        assert_eq!(source, KeySource::Missing);
        let given = SecretKey::generate().encode();
        assert_eq!(
            resolve(&pg, Some(&given), None).unwrap().1,
            KeySource::Given
        );
        assert!(resolve(&pg, Some("short"), None).is_err());
    }
}
