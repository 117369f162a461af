//! `/e/{slug}`: external applications push and read records. Every request,
//! allowed or denied, is written to the call log.

use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::http::header::{self, HeaderMap};
use actix_web::http::{Method as HttpMethod, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use chrono::{NaiveDateTime, TimeDelta};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::access_cache::{AccessCache, CredentialFacts, CredentialKey};
use crate::clock::{parse_rfc3339, truncate};
use crate::db::DbConn;
use crate::domain::access::{
    decide, Denial, EndpointAccess, Presented, Principal, SecondaryAccess,
};
use crate::domain::endpoint::{AuthType, IpAllowlist, Method};
use crate::domain::token::{TokenHash, TokenValue};
use crate::error::AppError;
use crate::metrics::IngestLabels;
use crate::store::calls::NewCall;
use crate::store::endpoints::EndpointRow;
use crate::store::records::RecordQuery;
use crate::store::{self};
use crate::telemetry::redacted_target;
use crate::writer::{Credential, Touch};
use crate::AppState;

/// How long an `Idempotency-Key` replays its first response.
pub const IDEMPOTENCY_WINDOW: TimeDelta = TimeDelta::hours(24);
const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/e/{slug}", web::route().to(collection))
        .route("/e/{slug}/{id}", web::route().to(item));
}

/// One stored record as served.
#[derive(Serialize)]
struct RecordOut<'a> {
    id: i64,
    received_at: String,
    data: &'a RawValue,
}

/// A page of records, oldest first; `next` is the cursor for `after`.
#[derive(Serialize)]
struct RecordPage<'a> {
    records: Vec<RecordOut<'a>>,
    next: Option<i64>,
}

/// What the call log learns while a request is handled.
#[derive(Default)]
struct CallFacts {
    endpoint_id: Option<i64>,
    token_kind: &'static str,
    token_id: Option<i64>,
    token_name: Option<String>,
    token_method: Option<String>,
    record_id: Option<i64>,
    request_bytes: i64,
    /// The call row was written with the record, in the same transaction.
    logged: bool,
    /// The credential to mark used, written with the call row.
    touch: Touch,
}

/// The request as the handler needs it, read before the body.
struct Incoming {
    method: HttpMethod,
    slug: String,
    target: String,
    remote: Option<IpAddr>,
    remote_text: String,
    user_agent: Option<String>,
    presented: Option<String>,
    headers: HeaderMap,
    query: String,
    started: Instant,
    now: NaiveDateTime,
}

enum Target {
    Collection,
    All,
    Item(Option<i64>),
}

async fn collection(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    handle(req, path.into_inner(), Target::Collection, body, state).await
}

async fn item(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let (slug, id) = path.into_inner();
    let target = if id == "all" {
        Target::All
    } else {
        Target::Item(id.parse::<i64>().ok().filter(|n| *n > 0))
    };
    handle(req, slug, target, body, state).await
}

/// The caller's address: the peer, or the proxy-reported client when trusted.
pub fn client_address(req: &HttpRequest, trust_proxy: bool) -> Option<IpAddr> {
    if trust_proxy {
        let info = req.connection_info();
        if let Some(addr) = info.realip_remote_addr() {
            if let Ok(ip) = addr.parse::<IpAddr>() {
                return Some(ip);
            }
            if let Ok(sock) = addr.parse::<std::net::SocketAddr>() {
                return Some(sock.ip());
            }
        }
    }
    req.peer_addr().map(|a| a.ip())
}

/// The bearer header, else the `access_token` query parameter.
fn presented_token(req: &HttpRequest) -> Option<String> {
    if let Some(value) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some((scheme, token)) = value.split_once(' ') {
            if scheme.eq_ignore_ascii_case("bearer") {
                return Some(token.trim().to_owned());
            }
        }
        return None;
    }
    serde_urlencoded::from_str::<Vec<(String, String)>>(req.query_string())
        .ok()?
        .into_iter()
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v)
}

async fn handle(
    req: HttpRequest,
    slug: String,
    target: Target,
    body: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let remote = client_address(&req, state.settings.trust_proxy_headers);
    let incoming = Incoming {
        method: req.method().clone(),
        slug: slug.chars().take(200).collect(),
        target: redacted_target(req.path(), req.query_string()),
        remote,
        remote_text: remote
            .map(|ip| ip.to_canonical().to_string())
            .unwrap_or_default(),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect()),
        presented: presented_token(&req),
        headers: req.headers().clone(),
        query: req.query_string().to_owned(),
        started: Instant::now(),
        now: state.clock.now(),
    };
    let mut facts = CallFacts {
        token_kind: "none",
        ..CallFacts::default()
    };
    let result = process(&state, &incoming, target, body, &mut facts).await;
    if let Err(AppError::Denied(Denial::TokenInvalid)) = result {
        state.failed_tokens.failed(incoming.remote, incoming.now);
    }
    let (response, code) = match result {
        Ok(response) => (response, None),
        Err(e) => (e.error_response(), Some(e.code())),
    };
    let status = response.status();
    let response_bytes = match response.body().size() {
        actix_web::body::BodySize::Sized(n) => n as i64,
        _ => 0,
    };
    if !facts.logged {
        let call = call_row(&incoming, &facts, status, code, response_bytes);
        let log = {
            let state = state.clone();
            async move {
                if let Err(e) = state.writer.log_call(call, facts.touch).await {
                    tracing::error!(error = %e, "could not write the call log");
                }
            }
        };
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // The database is away: the 503 does not wait for its call row too.
            actix_web::rt::spawn(log);
        } else {
            log.await;
        }
    }
    state.metrics.observe(
        IngestLabels {
            endpoint: if facts.endpoint_id.is_some() {
                incoming.slug.clone()
            } else {
                "-".into()
            },
            method: incoming.method.to_string(),
            status: status.as_u16(),
        },
        incoming.started.elapsed().as_secs_f64(),
    );
    response
}

fn call_row(
    incoming: &Incoming,
    facts: &CallFacts,
    status: StatusCode,
    code: Option<&str>,
    response_bytes: i64,
) -> NewCall {
    NewCall {
        at: incoming.now,
        endpoint_id: facts.endpoint_id,
        endpoint_slug: incoming.slug.clone(),
        method: incoming.method.to_string(),
        path: incoming.target.clone(),
        status: i32::from(status.as_u16()),
        code: code.map(str::to_owned),
        token_kind: facts.token_kind.to_owned(),
        token_id: facts.token_id,
        token_name: facts.token_name.clone(),
        token_method: facts.token_method.clone(),
        remote_addr: incoming.remote_text.clone(),
        user_agent: incoming.user_agent.clone(),
        request_bytes: facts.request_bytes,
        response_bytes,
        duration_us: i64::try_from(incoming.started.elapsed().as_micros()).unwrap_or(i64::MAX),
        record_id: facts.record_id,
        repeats: 1,
    }
}

/// What one database round trip learns about the endpoint and the credential.
struct Lookup {
    endpoint: Arc<EndpointRow>,
    presented: Presented,
    primary_id: Option<i64>,
}

/// The endpoint and what the token is on it, when the access cache holds both at
/// `generation` (no database work at all).
fn cached_lookup(
    cache: &AccessCache,
    generation: i64,
    slug: &str,
    method: Method,
    token: Option<&TokenValue>,
    malformed: bool,
) -> Option<Option<Lookup>> {
    let Some(endpoint) = cache.peek_endpoint(generation, slug)? else {
        return Some(None);
    };
    let (presented, primary_id) = match without_lookup(endpoint.id, method, token, malformed) {
        Ok(facts) => facts,
        Err((key, _)) => cache.peek_credential(generation, &key)?,
    };
    Some(Some(Lookup {
        endpoint,
        presented,
        primary_id,
    }))
}

/// The endpoint and what the token is on it at `generation`: from the access cache,
/// else from the database (and then cached).
fn lookup(
    conn: &mut DbConn,
    cache: &AccessCache,
    generation: i64,
    slug: &str,
    method: Method,
    token: Option<&TokenValue>,
    malformed: bool,
) -> Result<Option<Lookup>, AppError> {
    let Some(endpoint) = cache.endpoint(generation, slug, || {
        store::endpoints::find_by_slug(conn, slug)
    })?
    else {
        return Ok(None);
    };
    let (presented, primary_id) = match without_lookup(endpoint.id, method, token, malformed) {
        Ok(facts) => facts,
        Err((key, hash)) => cache.credential(generation, key, || {
            credential(conn, &hash, endpoint.id, method)
        })?,
    };
    Ok(Some(Lookup {
        endpoint,
        presented,
        primary_id,
    }))
}

/// A missing or malformed token needs no lookup: its facts. Otherwise the cache key
/// of what the presented token is on (`endpoint_id`, `method`), and its hash.
fn without_lookup(
    endpoint_id: i64,
    method: Method,
    token: Option<&TokenValue>,
    malformed: bool,
) -> Result<CredentialFacts, (CredentialKey, TokenHash)> {
    match (token, malformed) {
        (_, true) => Ok((Presented::Malformed, None)),
        (None, false) => Ok((Presented::Missing, None)),
        (Some(value), false) => {
            let hash = value.hash();
            Err(((endpoint_id, method.as_str(), hash.to_array()), hash))
        }
    }
}

/// What the token with `hash` is on (`endpoint_id`, `method`), from the database.
fn credential(
    conn: &mut DbConn,
    hash: &TokenHash,
    endpoint_id: i64,
    method: Method,
) -> Result<CredentialFacts, AppError> {
    if let Some(p) =
        store::endpoints::find_primary_by_hash(conn, hash)?.filter(|p| hash.matches(&p.token_hash))
    {
        let presented = Presented::Primary {
            endpoint_id: p.endpoint_id,
            method: Method::from_str(&p.method).map_err(|_| AppError::Internal)?,
        };
        return Ok((presented, Some(p.id)));
    }
    let Some(t) = store::tokens::find_by_hash(conn, hash)? else {
        return Ok((Presented::Unknown, None));
    };
    let matched_previous = !hash.matches(&t.token_hash);
    if matched_previous && !t.previous_hash.as_deref().is_some_and(|h| hash.matches(h)) {
        return Ok((Presented::Unknown, None));
    }
    let mapping = store::mappings::find(conn, t.id, endpoint_id, method)?;
    let access = SecondaryAccess {
        id: t.id,
        name: t.name,
        enabled: t.enabled,
        active: t.active,
        expires_at: t.expires_at,
        previous_valid_until: t.previous_valid_until,
        matched_previous,
        ip_allowlist: t.ip_allowlist.as_deref().map(IpAllowlist::from_stored),
        rate_limit_per_minute: t.rate_limit_per_minute,
        mapping_enabled: mapping.map(|m| m.enabled),
    };
    Ok((Presented::Secondary(access), None))
}

async fn process(
    state: &web::Data<AppState>,
    incoming: &Incoming,
    target: Target,
    body: web::Payload,
    facts: &mut CallFacts,
) -> Result<HttpResponse, AppError> {
    state
        .failed_tokens
        .check(incoming.remote, incoming.now)
        .map_err(|retry_after_secs| AppError::RateLimited {
            retry_after_secs,
            reason: "too many requests with an invalid token from this address",
        })?;
    let method = match (&incoming.method, &target) {
        (&HttpMethod::POST, Target::Collection) => Method::Post,
        (&HttpMethod::GET, Target::Collection | Target::Item(_)) => Method::Get,
        (&HttpMethod::DELETE, Target::All | Target::Item(_)) => Method::Delete,
        (&HttpMethod::GET, Target::All) => Method::Get,
        _ => {
            return Err(AppError::MethodNotAllowed(format!(
                "{} is not served here; use POST or GET on /e/{{slug}}, GET or DELETE on /e/{{slug}}/{{id}}",
                incoming.method
            )))
        }
    };

    let (token, malformed) = match &incoming.presented {
        None => (None, false),
        Some(text) => match TokenValue::parse(text) {
            Ok(v) => (Some(v), false),
            Err(_) => (None, true),
        },
    };
    let generation = state.access_generation.current().await?;
    let cache = state.access_cache.clone();
    let found = match cached_lookup(
        &cache,
        generation,
        &incoming.slug,
        method,
        token.as_ref(),
        malformed,
    ) {
        Some(found) => found,
        None => {
            let slug = incoming.slug.clone();
            state
                .db(move |conn| {
                    lookup(
                        conn,
                        &cache,
                        generation,
                        &slug,
                        method,
                        token.as_ref(),
                        malformed,
                    )
                })
                .await?
        }
    };
    let Some(Lookup {
        endpoint,
        presented,
        primary_id,
    }) = found
    else {
        return Err(AppError::EndpointNotFound);
    };
    facts.endpoint_id = Some(endpoint.id);
    let auth = AuthType::from_str(&endpoint.auth).unwrap_or(AuthType::Token);
    match &presented {
        Presented::Missing => facts.token_kind = "none",
        Presented::Malformed | Presented::Unknown => facts.token_kind = "unknown",
        Presented::Primary { method, .. } => {
            facts.token_kind = "primary";
            facts.token_method = Some(method.as_str().to_owned());
        }
        Presented::Secondary(t) => {
            facts.token_kind = "secondary";
            facts.token_id = Some(t.id);
            facts.token_name = Some(t.name.clone());
        }
    }
    if auth == AuthType::None {
        facts.token_kind = "none";
        facts.token_id = None;
        facts.token_name = None;
        facts.token_method = None;
    }

    if method == Method::Delete && !endpoint.allow_delete {
        return Err(AppError::MethodNotAllowed(
            "deleting is not allowed on this endpoint".into(),
        ));
    }

    let access = EndpointAccess {
        id: endpoint.id,
        auth,
        enabled: endpoint.enabled,
        ip_allowlist: endpoint
            .ip_allowlist
            .as_deref()
            .map(IpAllowlist::from_stored),
    };
    let principal = decide(&access, method, &presented, incoming.remote, incoming.now)
        .map_err(AppError::Denied)?;
    if let Principal::Secondary {
        id,
        rate_limit_per_minute: Some(rpm),
        ..
    } = &principal
    {
        let rpm = u32::try_from(*rpm).unwrap_or(0);
        state
            .limiter
            .check(*id, rpm, incoming.now)
            .map_err(|retry_after_secs| AppError::RateLimited {
                retry_after_secs,
                reason: "this token's requests per minute are used up",
            })?;
    }

    let retention_cutoff = endpoint
        .retention_days
        .map(|days| incoming.now - TimeDelta::days(i64::from(days)));
    let used = Used {
        principal: principal.clone(),
        primary_id,
        now: incoming.now,
    };

    match (method, target) {
        (Method::Post, _) => post(state, incoming, &endpoint, used, body, facts).await,
        (Method::Get, Target::Collection) => {
            let q = list_query(&incoming.query, retention_cutoff)?;
            let endpoint_id = endpoint.id;
            let rows = state
                .db(move |conn| Ok(store::records::page(conn, endpoint_id, &q)?))
                .await?;
            facts.touch = used.touch();
            let limit = list_limit(&incoming.query)?;
            let more = rows.len() as i64 > limit;
            let page = &rows[..rows.len().min(limit as usize)];
            let mut records = Vec::with_capacity(page.len());
            for r in page {
                records.push(record_out(r.id, r.received_at, &r.data)?);
            }
            let next = if more {
                page.last().map(|r| r.id)
            } else {
                None
            };
            Ok(json(StatusCode::OK, &RecordPage { records, next }))
        }
        (Method::Get, Target::Item(id)) | (Method::Delete, Target::Item(id)) => {
            let id = id.ok_or(AppError::NotFound("record"))?;
            let endpoint_id = endpoint.id;
            if method == Method::Delete {
                let deleted = state
                    .writer
                    .write_touching(None, move |conn| {
                        Ok(store::records::delete(conn, endpoint_id, id)?)
                    })
                    .await?;
                facts.touch = used.touch();
                if deleted == 0 {
                    return Err(AppError::NotFound("record"));
                }
                facts.record_id = Some(id);
                return Ok(HttpResponse::NoContent().finish());
            }
            let row = state
                .db(move |conn| Ok(store::records::find(conn, endpoint_id, id)?))
                .await?;
            facts.touch = used.touch();
            let row = row
                .filter(|r| retention_cutoff.is_none_or(|cut| r.received_at >= cut))
                .ok_or(AppError::NotFound("record"))?;
            facts.record_id = Some(row.id);
            Ok(json(
                StatusCode::OK,
                &record_out(row.id, row.received_at, &row.data)?,
            ))
        }
        (Method::Delete, _) => {
            let endpoint_id = endpoint.id;
            let deleted = state
                .writer
                .write_touching(None, move |conn| {
                    Ok(store::records::delete_all(conn, endpoint_id)?)
                })
                .await?;
            facts.touch = used.touch();
            Ok(json(
                StatusCode::OK,
                &serde_json::json!({ "deleted": deleted }),
            ))
        }
        (Method::Get, Target::All) => Err(AppError::NotFound("record")),
    }
}

/// The credential a request used, to mark it used.
struct Used {
    principal: Principal,
    primary_id: Option<i64>,
    now: NaiveDateTime,
}

impl Used {
    /// The credential to mark used, and when.
    fn touch(&self) -> Touch {
        let credential = match (&self.principal, self.primary_id) {
            (Principal::Secondary { id, .. }, _) => Credential::Token(*id),
            (Principal::Primary { .. }, Some(id)) => Credential::Primary(id),
            _ => return None,
        };
        Some((credential, self.now))
    }

    fn key(&self) -> String {
        match &self.principal {
            Principal::Public => "public".into(),
            Principal::Primary { method } => format!("primary:{method}"),
            Principal::Secondary { id, .. } => format!("token:{id}"),
        }
    }
}

fn record_out(id: i64, received_at: NaiveDateTime, data: &str) -> Result<RecordOut<'_>, AppError> {
    let data: &RawValue = serde_json::from_str(data).map_err(|_| AppError::Internal)?;
    Ok(RecordOut {
        id,
        received_at: crate::clock::rfc3339(received_at),
        data,
    })
}

fn json<T: Serialize>(status: StatusCode, body: &T) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json")
        .body(serde_json::to_string(body).unwrap_or_default())
}

fn query_pairs(query: &str) -> Result<Vec<(String, String)>, AppError> {
    serde_urlencoded::from_str(query).map_err(|_| {
        AppError::BadRequest("invalid_parameter", "the query string is malformed".into())
    })
}

fn list_limit(query: &str) -> Result<i64, AppError> {
    match query_pairs(query)?.into_iter().find(|(k, _)| k == "limit") {
        None => Ok(DEFAULT_LIMIT),
        Some((_, v)) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                AppError::BadRequest(
                    "invalid_parameter",
                    format!("limit must be an integer from 1 to {MAX_LIMIT}"),
                )
            }),
    }
}

pub fn list_query(query: &str, not_before: Option<NaiveDateTime>) -> Result<RecordQuery, AppError> {
    let mut q = RecordQuery {
        limit: list_limit(query)? + 1,
        not_before,
        ..RecordQuery::default()
    };
    for (k, v) in query_pairs(query)? {
        let bad = |msg: String| AppError::BadRequest("invalid_parameter", msg);
        match k.as_str() {
            "after" => {
                q.after = Some(v.parse::<i64>().map_err(|_| {
                    bad("after must be a record id (the `next` of a previous page)".into())
                })?)
            }
            "since" => q.since = Some(parse_rfc3339(&v).map_err(|e| bad(format!("since {e}")))?),
            "until" => q.until = Some(parse_rfc3339(&v).map_err(|e| bad(format!("until {e}")))?),
            _ => {}
        }
    }
    Ok(q)
}

pub fn is_json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

async fn read_body(
    mut body: web::Payload,
    limit: u64,
    facts: &mut CallFacts,
) -> Result<web::BytesMut, AppError> {
    let mut buf = web::BytesMut::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|_| {
            AppError::BadRequest("invalid_body", "the request body could not be read".into())
        })?;
        facts.request_bytes += chunk.len() as i64;
        if (buf.len() + chunk.len()) as u64 > limit {
            return Err(AppError::PayloadTooLarge(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// The request body as stored: UTF-8 text holding exactly one JSON value (any
/// JSON, kept byte for byte), or `invalid_json` saying where it broke.
pub fn json_body(bytes: &[u8]) -> Result<&str, AppError> {
    let text = std::str::from_utf8(bytes).map_err(|_| AppError::InvalidJson("not UTF-8".into()))?;
    match serde_json::from_str::<serde::de::IgnoredAny>(text) {
        Ok(_) => Ok(text),
        Err(e) => Err(AppError::InvalidJson(format!(
            "line {} column {}",
            e.line(),
            e.column()
        ))),
    }
}

pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, AppError> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = v.to_str().ok().map(str::trim).unwrap_or("");
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AppError::BadRequest(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 255 visible ASCII characters".into(),
        ));
    }
    Ok(Some(key.to_owned()))
}

async fn post(
    state: &web::Data<AppState>,
    incoming: &Incoming,
    endpoint: &EndpointRow,
    used: Used,
    body: web::Payload,
    facts: &mut CallFacts,
) -> Result<HttpResponse, AppError> {
    let limit = u64::try_from(endpoint.max_body_bytes).unwrap_or(0);
    if let Some(len) = incoming
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > limit {
            facts.request_bytes = i64::try_from(len).unwrap_or(i64::MAX);
            return Err(AppError::PayloadTooLarge(limit));
        }
    }
    if !is_json_content_type(&incoming.headers) {
        return Err(AppError::UnsupportedMediaType);
    }
    let idem_key = idempotency_key(&incoming.headers)?;
    let bytes = read_body(body, limit, facts).await?;
    let data = json_body(&bytes)?.to_owned();
    let body_hash = Sha256::digest(bytes.as_ref()).to_vec();
    let endpoint_id = endpoint.id;
    let slug = endpoint.slug.clone();
    let principal_key = used.key();
    let now = incoming.now;
    // The call row is written with the record, in the same transaction: a stored
    // record always has its call in the viewer.
    let mut call = call_row(incoming, facts, StatusCode::CREATED, None, 0);
    let started = incoming.started;
    let location_slug = slug.clone();

    let touch = used.touch();
    let (record_id, replayed, body) = state
        .writer
        .write_touching(touch, move |conn| {
            let store_it = |conn: &mut DbConn| -> Result<_, AppError> {
                if let Some(key) = &idem_key {
                    let not_before = now - IDEMPOTENCY_WINDOW;
                    if let Some(first) = store::idempotency::find(conn, endpoint_id, &principal_key, key, not_before)? {
                        if first.body_hash != body_hash {
                            return Err(AppError::Conflict(
                                "idempotency_key_reused",
                                "this Idempotency-Key was used with a different body in the last 24 hours".into(),
                            ));
                        }
                        return Err(AppError::Replay(first.record_id, first.received_at));
                    }
                    store::idempotency::delete_expired(conn, endpoint_id, &principal_key, key, not_before)?;
                }
                let id = store::records::insert(conn, endpoint_id, now, &data)?;
                if let Some(key) = &idem_key {
                    store::idempotency::insert(conn, endpoint_id, &principal_key, key, &body_hash, id, now, now)?;
                }
                Ok((id, now, false))
            };
            // Only a key can collide with another instance's insert: then the record
            // must be undone with it (its own savepoint; the job's is the writer's).
            let stored = if idem_key.is_some() {
                conn.write_transaction(store_it)
            } else {
                store_it(conn)
            };
            let (id, at, replayed) = match stored {
                Err(AppError::Replay(id, at)) => (id, at, true),
                // Another instance committed the same key first: answer as it did.
                Err(AppError::Conflict("conflict", _)) if idem_key.is_some() => {
                    let key = idem_key.as_deref().unwrap_or_default();
                    let first = store::idempotency::find(conn, endpoint_id, &principal_key, key, now - IDEMPOTENCY_WINDOW)?
                        .ok_or(AppError::Internal)?;
                    (first.record_id, first.received_at, true)
                }
                other => other?,
            };
            let body = serde_json::json!({ "id": id, "received_at": crate::clock::rfc3339(truncate(at)) }).to_string();
            if !replayed {
                call.record_id = Some(id);
                call.response_bytes = body.len() as i64;
                call.duration_us = i64::try_from(started.elapsed().as_micros()).unwrap_or(i64::MAX);
                store::calls::insert(conn, &call)?;
            }
            Ok((id, replayed, body))
        })
        .await?;
    facts.record_id = Some(record_id);
    facts.logged = !replayed;

    let mut res = HttpResponse::Created();
    res.content_type("application/json")
        .insert_header((header::LOCATION, format!("/e/{location_slug}/{record_id}")));
    if replayed {
        res.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(res.body(body))
}
