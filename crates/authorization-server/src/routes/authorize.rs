//! `GET|POST /authorize`: the front-channel start of the dance.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use tessera_core::authorize::{self, UntrustedRequest};
use tessera_core::error::{ErrorCode, OAuthError};
use tessera_core::params::Params;
use tessera_core::resource;
use tessera_core::secrets;

use super::FormBody;
use super::flow::{self, Via};
use crate::error::{OrInternal, WebError};
use crate::id_tokens;
use crate::session;
use crate::state::AppState;

pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    handle(&state, &headers, &params, Via::Get)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// RFC 6749 §3.1 allows POST; parameters then come from the form body only.
pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    FormBody(body): FormBody,
) -> Result<Response, WebError> {
    handle(&state, &headers, &Params::parse(&body), Via::Post).await
}

fn untrusted(e: UntrustedRequest) -> WebError {
    WebError::bad_request_page(e.to_string())
}

async fn handle(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
    via: Via,
) -> Result<Response, WebError> {
    // 1. Who is asking, and where may the answer go? Until both are known,
    //    every error is a page: never a redirect (RFC 6749 §4.1.2.1).
    let client_id = authorize::identify_client(params).map_err(untrusted)?;
    let client = state
        .store
        .client(client_id)
        .await
        .or_page()?
        .ok_or_else(|| untrusted(UntrustedRequest::UnknownClient))?;
    let redirect = authorize::trust_redirect(params, &client).map_err(untrusted)?;

    // 2. Everything else is answered at the trusted redirect URI.
    let issuer = state.config.issuer();
    let mut request = match authorize::validate(params, &client, redirect) {
        Ok(r) => r,
        Err(e) => return Ok(flow::redirect(&e.location(issuer), via)),
    };
    // RFC 8707: the resource decides the audience; an unknown one is
    // `invalid_target`, answered at the redirect URI like any other error.
    let registered = match &request.resource {
        Some(id) => state.store.resource(id).await.or_page()?,
        None => None,
    };
    match resource::audience_for(
        request.resource.as_deref(),
        registered.as_ref(),
        &request.scope,
        &state.config.default_audience,
    ) {
        Ok(audience) => request.audience = audience,
        Err(error) => {
            let e = authorize::RedirectError {
                redirect: request.redirect.clone(),
                error,
            };
            return Ok(flow::redirect(&e.location(issuer), via));
        }
    }

    let now = state.now();
    request.require_login_since(now);
    let session = session::load(state, headers).await.or_page()?;
    let signed_in = session
        .as_ref()
        .and_then(|s| match (&s.user_id, s.auth_time) {
            (Some(user), Some(auth_time))
                // max_age=0 means "authenticate now", like prompt=login
                // (OIDC Core errata); otherwise an authentication exactly
                // max_age old still counts (§3.1.2.1: re-authenticate when
                // the elapsed time is *greater*).
                if !request.prompt.login
                    && request.max_age.is_none_or(|max| max > 0 && now - auth_time <= max) =>
            {
                Some((user.clone(), auth_time))
            }
            _ => None,
        });

    // prompt=none: answer without any page (OIDC Core §3.1.2.6).
    if request.prompt.none {
        let redirect_error = |code: ErrorCode, d: &'static str| {
            let e = authorize::RedirectError {
                redirect: request.redirect.clone(),
                error: OAuthError::new(code, d),
            };
            Ok(flow::redirect(&e.location(issuer), via))
        };
        let Some((user_id, auth_time)) = signed_in else {
            return redirect_error(ErrorCode::LoginRequired, "the user is not signed in");
        };
        // OIDC Core §3.1.2.2: the hint must be an ID token we issued, and
        // name the signed-in user; otherwise the user would have to log in.
        if let Some(hint) = &request.id_token_hint {
            match id_tokens::verify_own_id_token(state, hint) {
                None => {
                    return redirect_error(
                        ErrorCode::InvalidRequest,
                        "id_token_hint is not an ID token issued here",
                    );
                }
                Some(claims) if claims.sub != user_id => {
                    return redirect_error(
                        ErrorCode::LoginRequired,
                        "the signed-in user is not the one the id_token_hint names",
                    );
                }
                Some(_) => {}
            }
        }
        if !flow::consent_covers(state, &user_id, &client, &request).await? {
            return redirect_error(
                ErrorCode::ConsentRequired,
                "the user has not consented to this request",
            );
        }
        let location =
            flow::issue_code(state, &request, &user_id, auth_time, &request.scope).await?;
        return Ok(flow::redirect(&location, via));
    }

    // Park the validated request, bound to this browser session.
    let (session, new_cookie) = match session {
        Some(s) => (s, None),
        None => {
            let (raw, s) = session::new_session(state, None).or_page()?;
            state.store.create_session(&s).await.or_page()?;
            (s, session::set_cookie(state, &raw))
        }
    };
    let request_id = secrets::new_id(state.rng.as_ref()).or_page()?;
    state
        .store
        .save_authorization_request(
            &request_id,
            &session.id_hash,
            &request,
            now + state.config.authorization_request_ttl,
        )
        .await
        .or_page()?;

    let mut response = if signed_in.is_some() {
        flow::continue_authorization(state, &session, &request_id, &request, &client, via).await?
    } else {
        flow::login_again(state, &request_id, via)
    };
    if let Some(cookie) = new_cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}
