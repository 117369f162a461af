//! The Health page: every mapping's last call, calls and refusals in 24 hours,
//! silence and its token's expiry, the worst first; choices in the address; each
//! mapping's expected cadence and Renew for expiring tokens, in place (admins).

use std::str::FromStr;

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Timelike, Utc};
use serde::Serialize;

use super::{int_field, UiForm, UiUser};
use crate::domain::endpoint::Method;
use crate::domain::health::ExpectEvery;
use crate::error::{AppError, AppResult};
use crate::operations::health::{self, HealthPage, HealthQuery, MappingHealth, PAGE_SIZES};
use crate::operations::mappings;
use crate::state::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/health").route(web::get().to(page)));
    cfg.service(web::resource("/health/cadence").route(web::post().to(cadence_form)));
}

/// The cadences offered in a row (seconds, words); any other value set through the
/// API is offered too, as it is.
const CADENCES: [(i32, &str); 7] = [
    (300, "5 min"),
    (900, "15 min"),
    (3_600, "1 h"),
    (21_600, "6 h"),
    (86_400, "1 day"),
    (604_800, "7 days"),
    (2_592_000, "30 days"),
];

/// Sets or removes a mapping's expected cadence (admins): `token_id`, `endpoint_id`,
/// `method`, `every` (seconds; empty removes it).
async fn cadence_form(form: UiForm, state: web::Data<AppState>) -> AppResult<HttpResponse> {
    form.user.require_admin()?;
    let parsed = (|| {
        let id = |k: &str| {
            int_field::<i64>(&form, k)?.ok_or_else(|| AppError::validation(k, "is required"))
        };
        let method = Method::from_str(form.get("method").unwrap_or_default())
            .map_err(|e| AppError::validation("method", e))?;
        let every = int_field::<i64>(&form, "every")?
            .map(ExpectEvery::parse)
            .transpose()
            .map_err(|m| AppError::validation("every", m))?;
        Ok::<_, AppError>(((id("token_id")?, id("endpoint_id")?, method), every))
    })();
    let result = match parsed {
        Ok((key, every)) => mappings::set_expectation(&state, form.caller(), key, every).await,
        Err(e) => Err(e),
    };
    form.finish("/ui/health", result, |m| match m.expect_every_seconds {
        Some(s) => format!(
            "The {} mapping is expected to call {}.",
            m.method,
            cadence(s)
        ),
        None => format!("The {} mapping has no expected cadence now.", m.method),
    })
}

/// The address of the Health page with `q` (empty choices left out).
fn address(q: &HealthQuery) -> String {
    let pairs = [
        ("q", &q.q),
        ("state", &q.state),
        ("sort", &q.sort),
        ("dir", &q.dir),
        ("page", &q.page),
        ("per", &q.per),
    ];
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if let Some(v) = v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            s.append_pair(k, v);
        }
    }
    let query = s.finish();
    if query.is_empty() {
        "/ui/health".to_owned()
    } else {
        format!("/ui/health?{query}")
    }
}

fn changed(q: &HealthQuery, f: impl FnOnce(&mut HealthQuery)) -> String {
    let mut q = q.clone();
    f(&mut q);
    address(&q)
}

/// "14:02" today, "2026-11-28 14:02" before (UTC).
fn short_time(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    if t.date_naive() == now.date_naive() {
        format!("{:02}:{:02}", t.hour(), t.minute())
    } else {
        full_time(t)
    }
}

/// "2026-11-24 10:03" (UTC), as the `when` filter writes it (formatted by hand:
/// a format string is parsed on every call, 150 times a page).
fn full_time(t: DateTime<Utc>) -> String {
    format!("{} {:02}:{:02}", t.date_naive(), t.hour(), t.minute())
}

/// "every 5 min", "every 2 h", "every 3 days".
fn cadence(seconds: i32) -> String {
    match seconds {
        s if s % 86_400 == 0 => format!(
            "every {} day{}",
            s / 86_400,
            if s == 86_400 { "" } else { "s" }
        ),
        s if s % 3_600 == 0 => format!("every {} h", s / 3_600),
        s if s % 60 == 0 => format!("every {} min", s / 60),
        s => format!("every {s} s"),
    }
}

/// One row as the page shows it: flat, with its words made here, so the template
/// looks up few values (each lookup in a row costs tera a path walk).
#[derive(Serialize)]
struct Row {
    /// `{token}-{endpoint}-{method}`, for the row's element ids.
    key: String,
    token_id: i64,
    token: String,
    endpoint_id: i64,
    slug: String,
    method: Method,
    /// "{token} on {slug} {method}", for labels.
    label: String,
    /// The mapping is switched off.
    off: bool,
    /// "silent since 14:02", when overdue.
    silent_text: Option<String>,
    failing: bool,
    cadence: Option<String>,
    /// The cadences offered, as `<option>`s (numbers and fixed words only).
    options: String,
    /// The last call: RFC 3339, its full time, as the row says it.
    last_call_at: Option<String>,
    last_call_title: Option<String>,
    last_call: Option<String>,
    /// "3 calls", and "2 refused" when there were refusals.
    calls: String,
    refused: Option<String>,
    expires: Option<String>,
    /// The token's state badge (class, words), if any; `disabled`: switched off.
    badge: Option<(&'static str, &'static str)>,
    disabled: bool,
    /// Renew is offered (expiring or expired, still active).
    renewable: bool,
}

fn row(m: &MappingHealth, now: DateTime<Utc>) -> Row {
    let t = &m.token;
    let badge = match (t.active, t.expired, t.expiring) {
        (false, _, _) => Some(("inactive", "Inactive")),
        (true, true, _) => Some(("expired", "Expired")),
        (true, false, true) => Some(("warn", "Expiring")),
        _ => None,
    };
    Row {
        key: format!("{}-{}-{}", t.id, m.endpoint.id, m.method),
        token_id: t.id,
        token: t.name.clone(),
        endpoint_id: m.endpoint.id,
        slug: m.endpoint.slug.clone(),
        method: m.method,
        label: format!("{} on {} {}", t.name, m.endpoint.slug, m.method),
        off: !m.enabled,
        silent_text: m
            .silent_since
            .map(|t| format!("silent since {}", short_time(t, now))),
        failing: m.failing,
        cadence: m.expect_every_seconds.map(cadence),
        options: cadence_options(m.expect_every_seconds),
        last_call_at: m
            .last_call_at
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
        last_call_title: m.last_call_at.map(full_time),
        last_call: m.last_call_at.map(|t| short_time(t, now)),
        calls: format!(
            "{} call{}",
            m.calls_24h,
            if m.calls_24h == 1 { "" } else { "s" }
        ),
        refused: (m.refusals_24h > 0).then(|| format!("{} refused", m.refusals_24h)),
        expires: t.expires_at.map(full_time),
        badge,
        disabled: !t.enabled,
        renewable: t.active && (t.expiring || t.expired),
    }
}

/// The `<option>`s of the cadences offered, `current` chosen (rendered here, not
/// in the template: 8 per row made most of the page's rendering time).
fn cadence_options(current: Option<i32>) -> String {
    let other = current.filter(|c| !CADENCES.iter().any(|(s, _)| s == c));
    let words = other.map(|c| cadence(c).trim_start_matches("every ").to_owned());
    let offered = CADENCES
        .iter()
        .map(|(s, w)| (*s, *w))
        .chain(other.zip(words.as_deref()));
    let mut html = String::new();
    for (seconds, words) in offered {
        let chosen = if current == Some(seconds) {
            " selected"
        } else {
            ""
        };
        html.push_str(&format!(
            "<option value=\"{seconds}\"{chosen}>{words}</option>"
        ));
    }
    html
}

/// A state filter with its count.
#[derive(Serialize)]
struct Choice {
    value: &'static str,
    label: &'static str,
    count: i64,
    url: String,
    current: bool,
}

fn choices(q: &HealthQuery, p: &HealthPage) -> Vec<Choice> {
    let current = q.state.as_deref().map(str::trim).unwrap_or("");
    [
        ("", "All", p.counts.all),
        ("silent", "Silent", p.counts.silent),
        ("failing", "Failing", p.counts.failing),
        ("expiring", "Expiring", p.counts.expiring),
    ]
    .into_iter()
    .map(|(value, label, count)| Choice {
        value,
        label,
        count,
        url: changed(q, |q| {
            q.state = (!value.is_empty()).then(|| value.to_owned());
            q.page = None;
        }),
        current: value == current,
    })
    .collect()
}

async fn page(
    user: UiUser,
    state: web::Data<AppState>,
    q: web::Query<HealthQuery>,
) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    let p = health::page(&state, &q).await?;
    let now = p.at;
    let rows: Vec<Row> = p.mappings.iter().map(|m| row(m, now)).collect();
    let to_page = |n: i64| changed(&q, |q| q.page = (n > 1).then(|| n.to_string()));
    let mut ctx = user.context("health", "Health");
    // The two hidden fields of every row's forms, escaped once.
    let hidden = format!(
        "<input type=\"hidden\" name=\"_csrf\" value=\"{}\"><input type=\"hidden\" name=\"_back\" value=\"{}\">",
        tera::escape_html(&user.csrf),
        tera::escape_html(&user.path)
    );
    ctx.insert("hidden", &hidden);
    ctx.insert("rows", &rows);
    ctx.insert("query", &q);
    ctx.insert("choices", &choices(&q, &p));
    ctx.insert("page_sizes", &PAGE_SIZES);
    ctx.insert("per", &p.per);
    ctx.insert("total", &p.total);
    ctx.insert("first", &p.first);
    ctx.insert("last", &p.last);
    ctx.insert("page_no", &p.page);
    ctx.insert("pages", &p.pages);
    ctx.insert("prev", &(p.page > 1).then(|| to_page(p.page - 1)));
    ctx.insert("next", &(p.page < p.pages).then(|| to_page(p.page + 1)));
    ctx.insert("clear_url", &changed(&q, |q| *q = HealthQuery::default()));
    ctx.insert(
        "filtered",
        &[&q.q, &q.state]
            .iter()
            .any(|v| v.as_deref().is_some_and(|v| !v.trim().is_empty())),
    );
    ctx.insert("checked_at", &now.format("%H:%M:%S").to_string());
    user.render("health.html", &ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cadences_and_times_read_as_people_say_them() {
        assert_eq!(cadence(300), "every 5 min");
        assert_eq!(cadence(7200), "every 2 h");
        assert_eq!(cadence(86_400), "every 1 day");
        assert_eq!(cadence(90), "every 90 s");
        let now = DateTime::parse_from_rfc3339("2026-11-29T18:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let t = DateTime::parse_from_rfc3339("2026-11-29T14:02:09Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(short_time(t, now), "14:02");
        assert_eq!(full_time(t), "2026-11-29 14:02");
        assert_eq!(full_time(t), t.format("%Y-%m-%d %H:%M").to_string());
        assert_eq!(
            short_time(t - chrono::TimeDelta::days(1), now),
            "2026-11-28 14:02"
        );
        let q = HealthQuery {
            state: Some("silent".into()),
            q: Some("shop app".into()),
            ..HealthQuery::default()
        };
        assert_eq!(address(&q), "/ui/health?q=shop+app&state=silent");
        assert_eq!(address(&HealthQuery::default()), "/ui/health");
        let options = cadence_options(Some(900));
        assert!(options.contains("<option value=\"900\" selected>15 min</option>"));
        assert_eq!(options.matches("<option").count(), CADENCES.len());
        let odd = cadence_options(Some(120));
        assert!(odd.ends_with("<option value=\"120\" selected>2 min</option>"));
        assert!(!cadence_options(None).contains("selected"));
    }
}
