//! The `portico` binary: parses the command line and delegates.

use std::io::Read;
use std::net::TcpListener;

use actix_web::web;
use anyhow::Context;
use clap::Parser;

use portico::clock::Clock;
use portico::config::{Cli, Command, ServeArgs, UserCommand};
use portico::db::{self, DatabaseUrl};
use portico::domain::secret::Password;
use portico::operations::{upkeep, users};
use portico::state::{AppState, Settings};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    portico::threads::small_pages_only();
    let cli = Cli::parse();
    portico::telemetry::init(&cli.log, cli.log_json);
    let url = DatabaseUrl::parse(&cli.database_url).map_err(|e| anyhow::anyhow!(e))?;
    match cli.command {
        Command::Migrate { status } => migrate(&url, status),
        Command::Backup { path } => {
            let summary = db::backup::backup(&url, &path)?;
            println!("backup written: {summary}");
            Ok(())
        }
        Command::Restore { backup } => {
            let summary = db::backup::restore(&url, &backup)?;
            println!("restored {} into {}", backup.display(), summary);
            println!("start the server to serve it (pending migrations run at start)");
            Ok(())
        }
        Command::User(UserCommand::Add { name, role }) => {
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .context("reading the password from stdin")?;
            let password = Password::new(password.trim_end_matches(['\r', '\n']).to_owned());
            let pool = db::connect(&url, 1)?;
            let mut conn = pool.get()?;
            db::migrate(&mut conn)?;
            users::add_offline(&mut conn, &name, role, &password)?;
            println!("added user '{name}' with role {}", role.as_str());
            Ok(())
        }
        Command::Serve(args) => serve(&url, *args),
        Command::Sweep {
            call_retention_days,
        } => sweep(&url, call_retention_days),
    }
}

/// Applies pending migrations, or (`status`) lists applied and pending ones.
fn migrate(url: &DatabaseUrl, status: bool) -> anyhow::Result<()> {
    let pool = db::connect(url, 1)?;
    if !status {
        let applied = db::migrate(&mut *pool.get()?)?;
        println!("applied {applied} migration(s) to {}", url.redacted());
        return Ok(());
    }
    let status = db::migration_status(&mut *pool.get()?)?;
    for (version, applied) in &status {
        println!("{} {version}", if *applied { "applied" } else { "pending" });
    }
    let pending = status.iter().filter(|(_, a)| !a).count();
    println!("{pending} pending migration(s) on {}", url.redacted());
    Ok(())
}

/// One pass of upkeep, now.
fn sweep(url: &DatabaseUrl, call_retention_days: u32) -> anyhow::Result<()> {
    let pool = db::connect(url, 1)?;
    let mut conn = pool.get()?;
    db::migrate(&mut conn)?;
    let started = std::time::Instant::now();
    let swept = upkeep::sweep(&mut conn, Clock::default().now(), call_retention_days)?;
    println!(
        "swept in {:.3} s: {} partitions dropped, {} calls and {} records removed",
        started.elapsed().as_secs_f64(),
        swept.partitions_dropped,
        swept.calls_deleted,
        swept.records_deleted
    );
    Ok(())
}

/// The read replica's pool, if `--database-read-url` names one (PostgreSQL only).
fn read_replica(url: &DatabaseUrl, args: &ServeArgs) -> anyhow::Result<Option<db::DbPool>> {
    let Some(read_url) = &args.database_read_url else {
        return Ok(None);
    };
    let read_url = DatabaseUrl::parse(read_url).map_err(|e| anyhow::anyhow!(e))?;
    if !matches!(
        (url, &read_url),
        (DatabaseUrl::Postgres(_), DatabaseUrl::Postgres(_))
    ) {
        anyhow::bail!("--database-read-url needs PostgreSQL, for the database and its replica");
    }
    tracing::info!(replica = %read_url.redacted(), "viewer reads go to the read replica");
    Ok(Some(db::connect(&read_url, args.db_pool_size.max(2))?))
}

fn serve(url: &DatabaseUrl, args: ServeArgs) -> anyhow::Result<()> {
    let (secret_key, key_source) = portico::operations::alerts::key::resolve(
        url,
        args.secret_key.as_deref(),
        args.secret_key_file.as_deref(),
    )?;
    key_source.log();
    let settings = Settings {
        secret_key,
        alerts: args.alert_settings(),
        trust_proxy_headers: args.trust_proxy_headers,
        secure_cookies: args.secure_cookies,
        session_ttl: chrono::TimeDelta::hours(i64::from(args.session_ttl_hours.max(1))),
        failed_token_limit: args.failed_token_limit,
        max_exports: args.max_exports.max(1),
        call_retention_days: args.call_retention_days,
        max_replica_lag: std::time::Duration::from_secs_f64(
            args.max_replica_lag.clamp(0.0, 86_400.0),
        ),
        health_check_interval: std::time::Duration::from_secs_f64(
            args.health_check_interval.clamp(0.1, 86_400.0),
        ),
        refusals_spike_threshold: args.refusals_spike_threshold.max(1),
        ..Settings::default()
    };
    let replica = read_replica(url, &args)?;
    let pool = db::connect_with(url, args.db_pool_size.max(2), args.sqlite_synchronous)?;
    let _serving = db::lock_for_serving(url)?;
    let clock = Clock::default();
    if let Some(generated) = upkeep::prepare_database(&pool, args.admin_password, &clock)? {
        // Printed once, to the terminal, never to the log.
        println!("Created user 'admin' with password: {}", generated.expose());
        println!("Store it now: it is not shown again.");
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(portico::tls::server_config(cert, key)?),
        _ => None,
    };
    let listener =
        TcpListener::bind(&args.bind).with_context(|| format!("binding {}", args.bind))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(bind = %args.bind, %scheme, database = %url.redacted(), "portico listening");
    println!("Portico listening on {scheme}://{}", listener.local_addr()?);
    let mut state = AppState::new(pool, clock, settings);
    if let Some(replica) = replica {
        state = state.with_replica(replica);
    }
    let state = web::Data::new(state);
    actix_web::rt::System::new().block_on(async move {
        actix_web::rt::spawn(upkeep::sweep_forever(state.clone()));
        portico::serve_with(listener, state.clone(), args.workers, tls)?.await?;
        // Stopped: the refusals gathered last are written before the process ends.
        if let Err(e) = state.settle_calls().await {
            tracing::error!(error = %e, "could not write the last refused calls");
        }
        if let Err(e) = state.activity.flush(&state.writer).await {
            tracing::error!(error = %e, "could not write the mappings' last activity");
        }
        std::io::Result::Ok(())
    })?;
    Ok(())
}
