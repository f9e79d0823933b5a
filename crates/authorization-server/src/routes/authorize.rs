//! `GET|POST /authorize`: the front-channel start of the dance; the use case
//! is [`crate::app::authorization::start`].

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use tessera_core::params::Params;

use super::FormBody;
use super::redirect::{self, Via};
use super::source::SourceAddress;
use crate::app::authorization::start;
use crate::error::WebError;
use crate::session;
use crate::state::AppState;

pub async fn get(
    State(state): State<AppState>,
    source: SourceAddress,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    handle(&state, &headers, source, &params, Via::Get)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// RFC 6749 §3.1 allows POST; parameters then come from the form body only.
pub async fn post(
    State(state): State<AppState>,
    source: SourceAddress,
    headers: HeaderMap,
    FormBody(body): FormBody,
) -> Result<Response, WebError> {
    handle(&state, &headers, source, &Params::parse(&body), Via::Post).await
}

async fn handle(
    state: &AppState,
    headers: &HeaderMap,
    SourceAddress(source): SourceAddress,
    params: &Params,
    via: Via,
) -> Result<Response, WebError> {
    let started = start::start(state, params, session::cookie(state, headers), source)
        .await
        .map_err(WebError::from_app_page)?;
    let mut response = redirect::to(state, &started.next, via);
    if let Some(cookie) = started
        .new_session
        .and_then(|raw| session::set_cookie(state, &raw))
    {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}
