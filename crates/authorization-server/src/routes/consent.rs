//! `GET|POST /consent`: the resource owner decides what the client may do,
//! and may grant only some of the requested scopes.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tessera_core::authorize::RedirectError;
use tessera_core::error::{ErrorCode, OAuthError};
use tessera_core::params::Params;
use tessera_core::scope::Scope;
use tessera_store::Consent;

use super::FormBody;
use super::flow::{self, Via};
use super::login::{pending, pending_in};
use crate::error::{OrInternal, WebError};
use crate::state::AppState;
use crate::{pages, session};

fn not_signed_in() -> WebError {
    WebError::forbidden_page(
        "You need to sign in first. Go back to the application and start again.",
    )
}

pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let run = async {
        let params = Params::parse(query.unwrap_or_default().as_bytes());
        let (session, request_id, request, client) = pending(&state, &headers, &params).await?;
        let user_id = session.user_id.as_deref().ok_or_else(not_signed_in)?;
        // Consent cannot be reached with a login older than the request
        // allows (prompt=login, max_age): that login page is not skippable.
        if !session
            .auth_time
            .is_some_and(|t| request.accepts_login_at(t))
        {
            return Ok(flow::login_again(&state, &request_id, Via::Get));
        }
        let user = state
            .store
            .user(user_id)
            .await
            .or_page()?
            .ok_or_else(not_signed_in)?;
        // The name and host come from the registration, never from the
        // request (consent phishing, RFC 9700 §4.15).
        let redirect_host = url::Url::parse(&request.redirect.uri)
            .ok()
            .map(|u| {
                u.host_str()
                    .map_or_else(|| u.scheme().to_owned(), str::to_owned)
            })
            .unwrap_or_default();
        let scopes: Vec<&str> = request.scope.iter().collect();
        Ok::<_, WebError>(pages::render(
            StatusCode::OK,
            "consent.html",
            minijinja::context! {
                title => "Allow access?",
                base => state.config.base_path(),
                client_name => client.name,
                redirect_host,
                scopes,
                csrf_token => session.csrf_token,
                request_id,
                username => user.username,
            },
        ))
    };
    run.await.unwrap_or_else(IntoResponse::into_response)
}

pub async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    FormBody(body): FormBody,
) -> Result<Response, WebError> {
    submit_inner(&state, &headers, &body).await
}

async fn submit_inner(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, WebError> {
    let params = Params::parse(body);
    let field = |name: &str| {
        params.single(name).map_err(|_| {
            WebError::bad_request_page("The consent form was sent with a repeated field.")
        })
    };
    let csrf = field("csrf_token")?;
    let decision = field("decision")?;
    // The CSRF token is checked against the session before anything else is
    // looked at (RFC 6749 §10.12).
    let current = session::load(state, headers)
        .await
        .or_page()?
        .ok_or_else(not_signed_in)?;
    if !session::csrf_matches(&current, csrf) {
        return Err(WebError::forbidden_page(
            "The consent form did not come from this browser session. Nothing was granted.",
        ));
    }
    // The request must belong to this browser session (Dex CVE-2022-39222,
    // Hydra consent fixation).
    let (session, request_id, request, client) = pending_in(state, current, &params).await?;
    let (Some(user_id), Some(auth_time)) = (session.user_id.clone(), session.auth_time) else {
        return Err(not_signed_in());
    };
    if !request.accepts_login_at(auth_time) {
        return Ok(flow::login_again(state, &request_id, Via::Post));
    }
    let approve = match decision {
        Some("approve") => true,
        Some("deny") => false,
        _ => return Err(WebError::bad_request_page("Choose Allow or Deny.")),
    };
    // Single use: a double submit finds the request gone.
    if !state
        .store
        .take_authorization_request(&request_id, &session.id_hash)
        .await
        .or_page()?
    {
        return Err(flow::already_answered());
    }
    let deny = |description: &'static str| {
        let e = RedirectError {
            redirect: request.redirect.clone(),
            error: OAuthError::new(ErrorCode::AccessDenied, description),
        };
        Ok(flow::redirect(
            &e.location(state.config.issuer()),
            Via::Post,
        ))
    };
    if !approve {
        return deny("the user denied the request");
    }
    let checked = Scope::from_tokens(params_all(&params, "scope")).map_err(|_| {
        WebError::bad_request_page("The consent form was sent with a malformed scope.")
    })?;
    // Only what was asked can be granted, whatever the form says.
    let granted = checked.intersection(&request.scope);
    if granted.is_empty() {
        return deny("the user granted none of the requested scopes");
    }

    let now = state.now();
    let previous = state
        .store
        .consent(&user_id, &client.client_id)
        .await
        .or_page()?;
    let redirect_binding = client.is_public().then(|| request.redirect.uri.clone());
    let remembered = match previous {
        Some(p) if p.redirect_uri == redirect_binding => p.scope.union(&granted),
        _ => granted.clone(),
    };
    state
        .store
        .save_consent(&Consent {
            user_id: user_id.clone(),
            client_id: client.client_id.clone(),
            scope: remembered,
            redirect_uri: redirect_binding,
            granted_at: now,
        })
        .await
        .or_page()?;
    let location = flow::issue_code(state, &request, &user_id, auth_time, &granted).await?;
    Ok(flow::redirect(&location, Via::Post))
}

fn params_all<'a>(params: &'a Params, name: &'a str) -> impl Iterator<Item = String> + 'a {
    params
        .all(name)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}
