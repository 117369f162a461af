//! One process serves a SQLite database.

use super::DatabaseUrl;

/// Keeps a second process from serving the same SQLite database: SQLite has one
/// writing process, and this one publishes its access changes in memory
/// (`crate::generation`). Holds `PATH.lock` locked while the returned file lives.
/// PostgreSQL serves any number of instances: nothing to hold.
pub fn lock_for_serving(url: &DatabaseUrl) -> anyhow::Result<Option<std::fs::File>> {
    let DatabaseUrl::Sqlite(path) = url else {
        return Ok(None);
    };
    let lock = format!("{path}.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another Portico serves {path} (it holds {lock}); SQLite is served by one process \
             — use PostgreSQL for several instances"
        ),
        Err(std::fs::TryLockError::Error(e)) => Err(e.into()),
    }
}
