//! `/e/{slug}`: external applications push and read records. Every request,
//! allowed or denied, is written to the call log.
//!
//! A request is read once ([`request`]), its access resolved from the cache or one
//! store query ([`resolve`]), decided by `domain::access::decide`, and served
//! ([`records`]); its call row is written with the record, or after the answer is
//! known, and the response waits for that commit.

pub mod records;
pub mod request;
pub mod resolve;

use actix_web::body::MessageBody;
use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde::Serialize;

use crate::db::Durability;
use crate::domain::access::{decide, Denial, EndpointAccess, Presented, Principal};
use crate::domain::call::TokenKind;
use crate::domain::contract::SchemaMode;
use crate::domain::endpoint::{AuthType, Method};
use crate::error::{AppError, Code};
use crate::metrics::IngestLabels;
use crate::state::AppState;
use crate::store::calls::Call;
use crate::writer::{Credential, Touch};
use records::{Post, Stored};
use request::{Incoming, Target};
use resolve::{Presentation, Resolved};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/e/{slug}", web::route().to(collection))
        .route("/e/{slug}/{id}", web::route().to(item));
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
    handle(req, slug, Target::of_segment(&id), body, state).await
}

/// What the call log learns while a request is handled.
#[derive(Default)]
struct CallFacts {
    endpoint_id: Option<i64>,
    token_kind: TokenKind,
    token_id: Option<i64>,
    token_name: Option<String>,
    token_method: Option<Method>,
    record_id: Option<i64>,
    request_bytes: i64,
    /// Whether the body conformed to the endpoint's schema (`None`: not checked).
    conforms: Option<bool>,
    /// Why it was refused, where the code alone does not say.
    detail: Option<String>,
    /// The call row was written with the record, in the same transaction.
    logged: bool,
    /// The credential to mark used, written with the call row.
    touch: Touch,
}

impl CallFacts {
    /// The call row of this request, answered with `status`.
    fn call(
        &self,
        incoming: &Incoming,
        status: StatusCode,
        code: Option<&str>,
        response_bytes: i64,
    ) -> Call {
        Call {
            id: 0,
            at: incoming.now,
            endpoint_id: self.endpoint_id,
            endpoint_slug: incoming.slug.clone(),
            method: incoming.method.to_string(),
            path: incoming.path.clone(),
            status: i32::from(status.as_u16()),
            code: code.map(str::to_owned),
            token_kind: self.token_kind,
            token_id: self.token_id,
            token_name: self.token_name.clone(),
            token_method: self.token_method,
            remote_addr: incoming.remote_text.clone(),
            user_agent: incoming.user_agent.clone(),
            request_bytes: self.request_bytes,
            response_bytes,
            duration_us: i64::try_from(incoming.started.elapsed().as_micros()).unwrap_or(i64::MAX),
            record_id: self.record_id,
            repeats: 1,
            conforms: self.conforms,
            detail: self.detail.clone(),
        }
    }

    /// Who the call presented itself as (nobody, on a public endpoint).
    fn identify(&mut self, presented: &Presented, auth: AuthType) {
        match presented {
            _ if auth == AuthType::None => self.token_kind = TokenKind::None,
            Presented::Missing => self.token_kind = TokenKind::None,
            Presented::Malformed | Presented::Unknown => self.token_kind = TokenKind::Unknown,
            Presented::Primary { method, .. } => {
                self.token_kind = TokenKind::Primary;
                self.token_method = Some(*method);
            }
            Presented::Secondary(t) => {
                self.token_kind = TokenKind::Secondary;
                self.token_id = Some(t.id);
                self.token_name = Some(t.name.clone());
            }
        }
    }
}

async fn handle(
    req: HttpRequest,
    slug: String,
    target: Target,
    mut body: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let incoming = Incoming::read(
        &req,
        slug,
        target,
        state.settings.trust_proxy_headers,
        state.clock.now(),
    );
    let mut facts = CallFacts::default();
    let result = process(&state, &incoming, &mut body, &mut facts).await;
    if !matches!(&result, Err(e) if e.code() == Code::PayloadTooLarge) {
        // What was sent and not read, read to its end: the connection stays open
        // for the client's next request (a refused call costs no new connection).
        facts.request_bytes += records::drain(&mut body, incoming.content_length).await;
    }
    if let Err(AppError::Denied(Denial::TokenInvalid)) = result {
        state
            .limits
            .failed_token(incoming.remote, incoming.now)
            .await;
    }
    let (response, code) = match result {
        Ok(response) => (response, None),
        Err(e) => (e.error_response(), Some(e.code().as_str())),
    };
    let status = response.status();
    if let Some(code) = code {
        state.metrics.refused(code);
    }
    if !facts.logged {
        let response_bytes = match response.body().size() {
            actix_web::body::BodySize::Sized(n) => n as i64,
            _ => 0,
        };
        let call = facts.call(&incoming, status, code, response_bytes);
        // A repeated refusal costs a hash-map update; the rest wait for their row.
        let counted = facts.touch.is_none() && state.refusals.count(&call);
        if !counted {
            log_call(&state, call, facts.touch.take(), status).await;
        }
    }
    count_activity(&state, &facts, &incoming, status);
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

/// Counts the call for integration health as the call log counts it: a mapping's
/// (secondary token, endpoint, method) call, accepted or refused.
fn count_activity(state: &AppState, facts: &CallFacts, incoming: &Incoming, status: StatusCode) {
    let (TokenKind::Secondary, Some(token_id), Some(endpoint_id)) =
        (facts.token_kind, facts.token_id, facts.endpoint_id)
    else {
        return;
    };
    let Ok(method) = incoming.method.as_str().parse::<Method>() else {
        return;
    };
    let key = crate::domain::health::MappingKey {
        token_id,
        endpoint_id,
        method,
    };
    state
        .activity
        .count(key, incoming.now, status.as_u16() >= 400);
}

/// Writes the call row and waits for its commit, so the viewer never misses an
/// answered call; a 503 (the database is away) does not wait for it.
async fn log_call(state: &web::Data<AppState>, call: Call, touch: Touch, status: StatusCode) {
    let log = {
        let state = state.clone();
        async move {
            // An accepted call's row must reach the disk; a refusal's may trail it.
            let durability = match status.as_u16() < 400 {
                true => Durability::Durable,
                false => Durability::Relaxed,
            };
            let refused = touch.is_none() && durability == Durability::Relaxed;
            let first = refused.then(|| call.clone());
            match state.writer.log_call(call, touch, durability).await {
                Ok(row) => {
                    if let Some(first) = first {
                        state.refusals.opened(&first, row);
                    }
                }
                Err(e) => tracing::error!(error = %e, "could not write the call log"),
            }
        }
    };
    if status == StatusCode::SERVICE_UNAVAILABLE {
        actix_web::rt::spawn(log);
    } else {
        log.await;
    }
}

async fn process(
    state: &AppState,
    incoming: &Incoming,
    body: &mut web::Payload,
    facts: &mut CallFacts,
) -> Result<HttpResponse, AppError> {
    state
        .limits
        .check_address(incoming.remote, incoming.now)
        .map_err(|retry_after_secs| AppError::RateLimited {
            retry_after_secs,
            reason: "too many requests with an invalid token from this address",
        })?;
    let method = incoming.endpoint_method()?;
    let presentation = Presentation::of(incoming.presented.as_deref());
    let Some(Resolved {
        endpoint,
        credential,
    }) = resolve::resolve(state, &incoming.slug, method, &presentation).await?
    else {
        return Err(AppError::endpoint_not_found());
    };
    let (presented, primary_id) = &*credential;
    facts.endpoint_id = Some(endpoint.id);
    facts.identify(presented, endpoint.auth);
    if method == Method::Delete && !endpoint.allow_delete {
        return Err(AppError::method_not_allowed(
            "deleting is not allowed on this endpoint",
        ));
    }
    let access = EndpointAccess {
        id: endpoint.id,
        auth: endpoint.auth,
        enabled: endpoint.enabled,
        ip_allowlist: endpoint.ip_allowlist.as_ref(),
    };
    let principal = decide(&access, method, presented, incoming.remote, incoming.now)
        .map_err(AppError::Denied)?;
    check_rate(state, &principal, incoming).await?;
    let used = Used {
        touch: touch_of(&principal, *primary_id, incoming),
        principal,
    };
    serve(state, incoming, &endpoint, method, used, body, facts).await
}

/// Counts a request of a secondary token against its requests per minute (with
/// every instance on the database, when they share it).
async fn check_rate(
    state: &AppState,
    principal: &Principal,
    incoming: &Incoming,
) -> Result<(), AppError> {
    if let Principal::Secondary {
        id,
        rate_limit_per_minute: Some(rpm),
        ..
    } = principal
    {
        let rpm = u32::try_from(*rpm).unwrap_or(0);
        state
            .limits
            .admit(*id, rpm, incoming.now)
            .await?
            .map_err(|retry_after_secs| AppError::RateLimited {
                retry_after_secs,
                reason: "this token's requests per minute are used up",
            })?;
    }
    Ok(())
}

/// The credential a request used: who, for idempotency, and what to mark used.
struct Used {
    principal: Principal,
    touch: Touch,
}

fn touch_of(principal: &Principal, primary_id: Option<i64>, incoming: &Incoming) -> Touch {
    let credential = match (principal, primary_id) {
        (Principal::Secondary { id, .. }, _) => Credential::Token(*id),
        (Principal::Primary { .. }, Some(id)) => Credential::Primary(id),
        _ => return None,
    };
    Some((credential, incoming.now))
}

impl Used {
    /// The principal as idempotency keys are scoped.
    fn key(&self) -> String {
        match &self.principal {
            Principal::Public => "public".into(),
            Principal::Primary { method } => format!("primary:{method}"),
            Principal::Secondary { id, .. } => format!("token:{id}"),
        }
    }
}

fn json(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/json")
        .body(body)
}

#[derive(Serialize)]
struct Deleted {
    deleted: usize,
}

async fn serve(
    state: &AppState,
    incoming: &Incoming,
    endpoint: &crate::store::endpoints::EndpointRow,
    method: Method,
    used: Used,
    body: &mut web::Payload,
    facts: &mut CallFacts,
) -> Result<HttpResponse, AppError> {
    let not_before = records::retention_cutoff(incoming.now, endpoint.retention_days);
    match (method, incoming.target) {
        (Method::Post, _) => post(state, incoming, endpoint, used, body, facts).await,
        (Method::Get, Target::Collection) => {
            let q = incoming.list_query()?;
            let page = records::page_json(state, endpoint.id, q, not_before).await?;
            facts.touch = used.touch;
            Ok(json(StatusCode::OK, page))
        }
        (Method::Get, Target::Item(id)) => {
            let id = id.ok_or_else(|| AppError::not_found("record"))?;
            let one = records::one_json(state, endpoint.id, id, not_before).await;
            facts.touch = used.touch;
            let one = one?;
            facts.record_id = Some(id);
            Ok(json(StatusCode::OK, one))
        }
        (Method::Delete, Target::Item(id)) => {
            let id = id.ok_or_else(|| AppError::not_found("record"))?;
            let deleted = records::delete(state, endpoint.id, Some(id)).await?;
            facts.touch = used.touch;
            if deleted == 0 {
                return Err(AppError::not_found("record"));
            }
            facts.record_id = Some(id);
            Ok(HttpResponse::NoContent().finish())
        }
        (Method::Delete, _) => {
            let deleted = records::delete(state, endpoint.id, None).await?;
            facts.touch = used.touch;
            let body =
                serde_json::to_string(&Deleted { deleted }).map_err(|_| AppError::Internal)?;
            Ok(json(StatusCode::OK, body))
        }
        (Method::Get, Target::All) => Err(AppError::not_found("record")),
    }
}

/// Checks `data` against schema version `schema_id`: whether it conforms, or (in
/// `enforce` mode) the refusal naming where it does not.
async fn conforms(state: &AppState, schema_id: i64, data: &str) -> Result<bool, AppError> {
    let contract = resolve::contract(state, schema_id).await?;
    let value: serde_json::Value =
        serde_json::from_str(data).map_err(|_| AppError::invalid_json("unreadable"))?;
    let errors = contract.check(&value);
    match (errors.is_empty(), contract.mode) {
        (true, _) => Ok(true),
        (false, SchemaMode::Observe) => Ok(false),
        (false, SchemaMode::Enforce) => Err(AppError::SchemaViolation(errors)),
    }
}

async fn post(
    state: &AppState,
    incoming: &Incoming,
    endpoint: &crate::store::endpoints::EndpointRow,
    used: Used,
    body: &mut web::Payload,
    facts: &mut CallFacts,
) -> Result<HttpResponse, AppError> {
    let limit = u64::try_from(endpoint.max_body_bytes).unwrap_or(0);
    if let Some(len) = incoming.content_length.filter(|len| *len > limit) {
        facts.request_bytes = i64::try_from(len).unwrap_or(i64::MAX);
        return Err(AppError::payload_too_large(limit));
    }
    if !incoming.json_content {
        return Err(AppError::unsupported_media_type());
    }
    let key = incoming.idempotency_key()?;
    let bytes = records::read_body(body, limit, &mut facts.request_bytes).await?;
    let data = records::json_text(bytes)?;
    if let Some(schema_id) = endpoint.schema_id {
        let checked = conforms(state, schema_id, &data).await;
        // A refused body did not conform either: its call says so.
        facts.conforms = match &checked {
            Ok(c) => Some(*c),
            Err(AppError::SchemaViolation(errors)) => {
                facts.detail = serde_json::to_string(errors).ok();
                Some(false)
            }
            Err(_) => None,
        };
        checked?;
    }
    // The call row is written with the record, in the same transaction: a stored
    // record always has its call in the viewer.
    let call = facts.call(incoming, StatusCode::CREATED, None, 0);
    let post = Post {
        endpoint_id: endpoint.id,
        principal: used.key(),
        key,
        data,
        now: incoming.now,
        started: incoming.started,
        call,
    };
    let stored = records::store_post(state, used.touch, post).await?;
    facts.record_id = Some(stored.id());
    let replayed = matches!(stored, Stored::Replayed { .. });
    facts.logged = !replayed;
    let mut res = HttpResponse::Created();
    res.content_type("application/json").insert_header((
        header::LOCATION,
        format!("/e/{}/{}", endpoint.slug, stored.id()),
    ));
    if replayed {
        res.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(res.body(stored.body()))
}
