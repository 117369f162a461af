//! Alert targets: where integration events are sent, signed per Standard Webhooks.
//! An admin registers a target (address, subscribed kinds); its signing secret is
//! shown once and kept sealed under the server's secret key ([`key`]), since
//! sending needs the secret itself. [`dispatch`] fans events out into deliveries
//! and sends them off the request path; [`deliveries`] lists them and sends a test.

pub mod deliveries;
pub mod dispatch;
pub mod key;
mod send;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::input::{default_true, field};
use super::{change, read};
use crate::domain::alert::{DeliveryState, EventSet, SigningSecret, TargetUrl};
use crate::domain::audit::Action;
use crate::domain::sealing::SecretKey;
use crate::domain::text::Name;
use crate::domain::user::Actor;
use crate::error::{missing, AppError, AppResult, Code};
use crate::state::AppState;
use crate::store;
use crate::store::alerts::{NewTarget, TargetChanges, TargetRow};

/// What a sealed signing secret is bound to (AEAD associated data).
const SEALED_FOR: &str = "portico-alert-target-secret-v1";

/// Deliveries of a target by state.
#[derive(Debug, Default, Clone, Serialize, ToSchema)]
pub struct DeliveryCounts {
    pub pending: i64,
    pub delivered: i64,
    pub failed: i64,
}

/// An alert target as listed: never its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AlertTargetOut {
    pub id: i64,
    pub name: String,
    pub url: String,
    /// The event kinds sent to it.
    #[schema(value_type = Vec<String>, example = json!(["mapping_silent", "token_expired"]))]
    pub events: Vec<String>,
    pub enabled: bool,
    /// `whsec_` and the first and last four characters of the secret.
    pub secret_hint: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deliveries: DeliveryCounts,
}

impl AlertTargetOut {
    fn of(t: TargetRow, deliveries: DeliveryCounts) -> Self {
        Self {
            id: t.id,
            name: t.name,
            url: t.url,
            events: t
                .events
                .kinds()
                .iter()
                .map(|k| k.as_str().to_owned())
                .collect(),
            enabled: t.enabled,
            secret_hint: t.secret_hint,
            created_by: t.created_by,
            created_at: t.created_at.and_utc(),
            updated_at: t.updated_at.and_utc(),
            deliveries,
        }
    }
}

/// A target with its signing secret, in the create and rotate responses only.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertTargetWithSecret {
    #[serde(flatten)]
    pub details: AlertTargetOut,
    /// The Standard Webhooks signing secret (`whsec_...`): shown once, never again.
    pub secret: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAlertTarget {
    pub name: String,
    /// `http://` or `https://`, without credentials.
    pub url: String,
    /// At least one of `mapping_silent`, `mapping_recovered`, `refusals_spike`,
    /// `token_expiring`, `token_expired`.
    pub events: Vec<String>,
    #[serde(default = "default_true")]
    pub enabled: bool,
}

/// A new target, validated.
pub struct TargetSpec {
    name: Name,
    url: TargetUrl,
    events: EventSet,
    enabled: bool,
}

fn events_field(names: &[String]) -> AppResult<EventSet> {
    EventSet::parse(names).map_err(|(i, e)| match i {
        Some(i) => AppError::validation(format!("events[{i}]"), e),
        None => AppError::validation("events", e),
    })
}

impl CreateAlertTarget {
    pub fn validate(self) -> AppResult<TargetSpec> {
        Ok(TargetSpec {
            name: field("name", Name::parse(self.name.trim()))?,
            url: field("url", TargetUrl::parse(&self.url))?,
            events: events_field(&self.events)?,
            enabled: self.enabled,
        })
    }
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAlertTarget {
    pub name: Option<String>,
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// The changes of an update, validated.
pub struct TargetPatch {
    name: Option<Name>,
    url: Option<TargetUrl>,
    events: Option<EventSet>,
    enabled: Option<bool>,
}

impl UpdateAlertTarget {
    pub fn validate(self) -> AppResult<TargetPatch> {
        Ok(TargetPatch {
            name: self
                .name
                .map(|n| field("name", Name::parse(n.trim())))
                .transpose()?,
            url: self
                .url
                .map(|u| field("url", TargetUrl::parse(&u)))
                .transpose()?,
            events: self.events.map(|e| events_field(&e)).transpose()?,
            enabled: self.enabled,
        })
    }
}

/// The server's key, or why a secret cannot be kept.
fn key_of(state: &AppState) -> AppResult<SecretKey> {
    state.settings.secret_key.clone().ok_or_else(|| {
        AppError::refused(
            Code::SecretKeyMissing,
            "this server has no secret key to keep signing secrets under; \
             start it with --secret-key-file or PORTICO_SECRET_KEY",
        )
    })
}

/// A new secret, sealed under `key`: (secret, sealed, hint).
fn new_secret(key: &SecretKey) -> (SigningSecret, Vec<u8>, String) {
    let secret = SigningSecret::generate();
    let sealed = key.seal(SEALED_FOR, secret.expose().as_bytes());
    let hint = secret.hint();
    (secret, sealed, hint)
}

/// Opens a target's sealed secret under the server's key.
pub(crate) fn open_secret(
    key: Option<&SecretKey>,
    sealed: &[u8],
) -> Result<SigningSecret, &'static str> {
    let key = key.ok_or("this instance has no secret key to open the signing secret")?;
    let plain = key
        .open(SEALED_FOR, sealed)
        .ok_or("the signing secret does not open under this instance's secret key")?;
    String::from_utf8(plain)
        .map(SigningSecret::from_opened)
        .map_err(|_| "the signing secret does not open under this instance's secret key")
}

/// A unique violation on a target's row is its name.
fn name_taken(e: AppError) -> AppError {
    match e {
        AppError::Refused(Code::Conflict, _) => AppError::refused(
            Code::NameTaken,
            "another alert target has this name (names are unique, ignoring case)",
        ),
        other => other,
    }
}

fn counts_by_target(
    rows: Vec<(i64, DeliveryState, i64)>,
) -> std::collections::HashMap<i64, DeliveryCounts> {
    let mut out: std::collections::HashMap<i64, DeliveryCounts> = Default::default();
    for (target, state, n) in rows {
        let c = out.entry(target).or_default();
        match state {
            DeliveryState::Pending => c.pending = n,
            DeliveryState::Delivered => c.delivered = n,
            DeliveryState::Failed => c.failed = n,
        }
    }
    out
}

/// Every target, by name, with its deliveries counted.
pub async fn list(state: &AppState) -> AppResult<Vec<AlertTargetOut>> {
    read(state, |conn| {
        let mut counts = counts_by_target(store::alerts::counts(conn)?);
        let rows = store::alerts::list_targets(conn)?;
        Ok(rows
            .into_iter()
            .map(|t| {
                let c = counts.remove(&t.id).unwrap_or_default();
                AlertTargetOut::of(t, c)
            })
            .collect())
    })
    .await
}

/// One target.
pub async fn get(state: &AppState, id: i64) -> AppResult<AlertTargetOut> {
    read(state, move |conn| {
        let t = store::alerts::find_target(conn, id).map_err(missing("alert target"))?;
        let mut counts = counts_by_target(store::alerts::counts(conn)?);
        Ok(AlertTargetOut::of(
            t,
            counts.remove(&id).unwrap_or_default(),
        ))
    })
    .await
}

/// Registers a target; the result carries its secret, once.
pub async fn create(
    state: &AppState,
    actor: &Actor,
    spec: TargetSpec,
) -> AppResult<AlertTargetWithSecret> {
    let (secret, sealed, hint) = new_secret(&key_of(state)?);
    let created_by = actor.username.clone();
    let row = change(state, actor, move |tx| {
        let row = store::alerts::insert_target(
            tx.conn,
            NewTarget {
                name: spec.name.as_str(),
                url: spec.url.as_str(),
                events: &spec.events,
                enabled: spec.enabled,
                secret_sealed: &sealed,
                secret_hint: &hint,
                created_by: &created_by,
                created_at: tx.now,
                updated_at: tx.now,
            },
        )
        .map_err(|e| name_taken(e.into()))?;
        tx.audit(
            Action::AlertTargetCreate,
            Some(row.id),
            serde_json::json!({"name": row.name, "url": row.url,
                "events": row.events.kinds(), "enabled": row.enabled}),
        )?;
        Ok(row)
    })
    .await?;
    Ok(AlertTargetWithSecret {
        details: AlertTargetOut::of(row, DeliveryCounts::default()),
        secret: secret.expose().to_owned(),
    })
}

/// Changes a target's name, address, events or switch.
pub async fn update(
    state: &AppState,
    actor: &Actor,
    id: i64,
    patch: TargetPatch,
) -> AppResult<AlertTargetOut> {
    change(state, actor, move |tx| {
        let was = store::alerts::find_target(tx.conn, id).map_err(missing("alert target"))?;
        let changes = TargetChanges {
            name: patch.name.as_ref().map(Name::as_str),
            url: patch.url.as_ref().map(TargetUrl::as_str),
            events: patch.events.as_ref(),
            enabled: patch.enabled,
            updated_at: Some(tx.now),
            ..TargetChanges::default()
        };
        store::alerts::update_target(tx.conn, id, &changes).map_err(|e| name_taken(e.into()))?;
        let differs = |new: Option<&str>, old: &str| new.filter(|n| *n != old).map(str::to_owned);
        tx.audit(
            Action::AlertTargetUpdate,
            Some(id),
            serde_json::json!({
                "target": was.name,
                "name": differs(changes.name, &was.name),
                "url": differs(changes.url, &was.url),
                "events": patch.events.filter(|e| *e != was.events).map(|e| e.kinds()),
                "enabled": patch.enabled.filter(|e| *e != was.enabled),
            }),
        )?;
        Ok(())
    })
    .await?;
    get(state, id).await
}

/// Removes a target with its deliveries and their attempts.
pub async fn delete(state: &AppState, actor: &Actor, id: i64) -> AppResult<()> {
    change(state, actor, move |tx| {
        let t = store::alerts::find_target(tx.conn, id).map_err(missing("alert target"))?;
        store::alerts::delete_target(tx.conn, id)?;
        tx.audit(
            Action::AlertTargetDelete,
            Some(id),
            serde_json::json!({"name": t.name}),
        )?;
        Ok(())
    })
    .await
}

/// Replaces a target's signing secret; the next attempt of every delivery is
/// signed with the new one. The result carries it, once.
pub async fn rotate(state: &AppState, actor: &Actor, id: i64) -> AppResult<AlertTargetWithSecret> {
    let (secret, sealed, hint) = new_secret(&key_of(state)?);
    change(state, actor, move |tx| {
        let t = store::alerts::find_target(tx.conn, id).map_err(missing("alert target"))?;
        let changes = TargetChanges {
            secret_sealed: Some(&sealed),
            secret_hint: Some(&hint),
            updated_at: Some(tx.now),
            ..TargetChanges::default()
        };
        store::alerts::update_target(tx.conn, id, &changes)?;
        tx.audit(
            Action::AlertTargetRotate,
            Some(id),
            serde_json::json!({"name": t.name}),
        )?;
        Ok(())
    })
    .await?;
    Ok(AlertTargetWithSecret {
        details: get(state, id).await?,
        secret: secret.expose().to_owned(),
    })
}
