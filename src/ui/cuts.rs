//! Confirming a cut with what it would have refused (`GET /api/v1/impact`'s
//! figure): the queries for a token, an endpoint or a mapping, and the
//! confirmation of an allowlist that changed.

use actix_web::HttpResponse;

use super::{list_field, UiForm};
use crate::domain::endpoint::IpAllowlist;
use crate::error::AppResult;
use crate::operations::impact::ImpactQuery;
use crate::state::AppState;

/// What cutting token `token`, endpoint `endpoint` (or both: the token's calls to
/// it) would have refused.
pub fn of(token: Option<i64>, endpoint: Option<i64>) -> ImpactQuery {
    ImpactQuery {
        token,
        endpoint,
        ..ImpactQuery::default()
    }
}

/// A form's non-empty allowlist that differs from `current` is confirmed first,
/// with what it would have refused of `cut`'s calls.
pub async fn confirm_allowlist(
    form: &UiForm,
    state: &AppState,
    cut: ImpactQuery,
    current: Option<&Vec<String>>,
    question: &str,
) -> Option<AppResult<HttpResponse>> {
    let entries = list_field(&form.text("ip_allowlist"))?;
    let new = IpAllowlist::parse(&entries).ok()?.entries();
    if current == Some(&new) {
        return None;
    }
    let q = ImpactQuery {
        allowlist: Some(new.join(",")),
        ..cut
    };
    form.confirm_impact(question, state, q).await
}
