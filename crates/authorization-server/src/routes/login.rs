//! `GET|POST /login`: the resource owner authenticates, directly with the
//! authorization server; the client never sees the password.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tessera_core::authorize::AuthorizationRequest;
use tessera_core::client::Client;
use tessera_core::params::Params;
use tessera_store::Session;

use super::FormBody;
use super::flow::{self, Via};
use crate::error::{OrInternal, WebError};
use crate::state::AppState;
use crate::{pages, passwords, session};

const LOGIN_FAILED: &str = "Incorrect username or password.";

pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let run = async {
        let params = Params::parse(query.unwrap_or_default().as_bytes());
        let (session, request_id, request, client) = pending(&state, &headers, &params).await?;
        Ok::<_, WebError>(render(
            &state,
            &session,
            &request_id,
            &client,
            request.login_hint.as_deref().unwrap_or_default(),
            None,
            StatusCode::OK,
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
    if params.first_repeated().is_some() {
        return Err(WebError::bad_request_page(
            "The sign-in form was sent with a repeated field.",
        ));
    }
    let (session, request_id, request, client) = pending(state, headers, &params).await?;
    if !session::csrf_matches(&session, params.single("csrf_token").ok().flatten()) {
        return Err(WebError::forbidden_page(
            "The sign-in form did not come from this browser session. Go back to the application and start again.",
        ));
    }
    let username = params.single("username").ok().flatten().unwrap_or_default();
    let password = params
        .single("password")
        .ok()
        .flatten()
        .unwrap_or_default()
        .to_owned();

    // Unknown users are checked against a dummy hash so the answer takes the
    // same time and says the same thing either way.
    let user = state.store.user_by_username(username).await.or_page()?;
    let hash = user.as_ref().map_or_else(
        || state.dummy_password_hash.clone(),
        |u| u.password_hash.clone(),
    );
    let verified = passwords::verify(password, hash).await.or_page()?;
    let user = match user {
        Some(u) if verified => u,
        _ => {
            tracing::info!(client_id = %client.client_id, "a sign-in attempt failed");
            return Ok(render(
                state,
                &session,
                &request_id,
                &client,
                username,
                Some(LOGIN_FAILED),
                StatusCode::UNAUTHORIZED,
            ));
        }
    };

    // A new session id on login, so a session id planted before login is
    // worthless after it (session fixation).
    let now = state.now();
    let (raw, new_session) = session::new_session(state, Some((&user.user_id, now))).or_page()?;
    state
        .store
        .replace_session(Some(&session.id_hash), &new_session)
        .await
        .or_page()?;
    tracing::info!(client_id = %client.client_id, "user signed in");

    let mut response = flow::continue_authorization(
        state,
        &new_session,
        &request_id,
        &request,
        &client,
        Via::Post,
    )
    .await?;
    if let Some(cookie) = session::set_cookie(state, &raw) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// The pending authorization request named by `request`, which must belong
/// to this browser's session.
pub async fn pending(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<(Session, String, AuthorizationRequest, Client), WebError> {
    let expired = || {
        WebError::bad_request_page(
            "This sign-in request has expired or was started in another browser. Go back to the application and start again.",
        )
    };
    let session = session::load(state, headers)
        .await
        .or_page()?
        .ok_or_else(expired)?;
    pending_in(state, session, params).await
}

/// [`pending`] for an already loaded session.
pub async fn pending_in(
    state: &AppState,
    session: Session,
    params: &Params,
) -> Result<(Session, String, AuthorizationRequest, Client), WebError> {
    let expired = || {
        WebError::bad_request_page(
            "This sign-in request has expired or was started in another browser. Go back to the application and start again.",
        )
    };
    let request_id = params
        .single("request")
        .ok()
        .flatten()
        .ok_or_else(expired)?
        .to_owned();
    let request = state
        .store
        .authorization_request(&request_id, &session.id_hash, state.now())
        .await
        .or_page()?
        .ok_or_else(expired)?;
    let client = state
        .store
        .client(&request.client_id)
        .await
        .or_page()?
        .ok_or_else(|| WebError::bad_request_page("The application is no longer registered."))?;
    Ok((session, request_id, request, client))
}

fn render(
    state: &AppState,
    session: &Session,
    request_id: &str,
    client: &Client,
    username: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    pages::render(
        status,
        "login.html",
        minijinja::context! {
            title => "Sign in",
            base => state.config.base_path(),
            client_name => client.name,
            csrf_token => session.csrf_token,
            request_id,
            username,
            error,
        },
    )
}
