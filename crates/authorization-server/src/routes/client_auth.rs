//! Client authentication at the back-channel endpoints (token, revocation,
//! introspection): RFC 6749 §2.3, with brute-force protection.

use axum::http::{HeaderMap, StatusCode, header};
use tessera_core::client::Client;
use tessera_core::error::OAuthError;
use tessera_core::params::Params;
use tessera_core::token_request::{self, AuthenticationError, ClientAuthentication};

use super::PeerIp;
use super::flow::record_event;
use crate::error::{OrInternal, WebError};
use crate::state::AppState;

/// Reads a back-channel request: a form body whose parameters are never
/// repeated. Query-string parameters are ignored (credentials there never
/// count, RFC 6749 §2.3.1).
pub fn form(headers: &HeaderMap, body: &[u8]) -> Result<Params, WebError> {
    if !super::is_form(headers) {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        )
        .into());
    }
    let params = Params::parse(body);
    params.reject_repeats()?;
    Ok(params)
}

/// Authenticates the client that sent `headers` and `params`.
pub async fn authenticate_request(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
    peer: PeerIp,
) -> Result<Client, WebError> {
    let mut authorization = headers.get_all(header::AUTHORIZATION).iter();
    let authorization = match (authorization.next(), authorization.next()) {
        (None, _) => None,
        (Some(v), None) => Some(v.to_str().map_err(|_| {
            auth_error(AuthenticationError::invalid_client(
                "malformed Authorization header",
                true,
            ))
        })?),
        (Some(_), Some(_)) => {
            return Err(
                OAuthError::invalid_request("the Authorization header was repeated").into(),
            );
        }
    };
    let credentials =
        token_request::client_authentication(authorization, params).map_err(auth_error)?;
    authenticate(state, &credentials, peer).await
}

/// An authentication failure as a response: 401 with `WWW-Authenticate:
/// Basic` when the client tried Basic (RFC 6749 §5.2).
pub fn auth_error(e: AuthenticationError) -> WebError {
    match WebError::json(e.error) {
        WebError::Json {
            status,
            error,
            retry_after,
            ..
        } => WebError::Json {
            status,
            basic_challenge: e.basic_attempted && status == StatusCode::UNAUTHORIZED,
            error,
            retry_after,
        },
        other => other,
    }
}

/// Checks the credentials, with brute-force protection: after too many
/// failures the client id is locked out for a while (429).
async fn authenticate(
    state: &AppState,
    credentials: &ClientAuthentication,
    peer: PeerIp,
) -> Result<Client, WebError> {
    let now = state.now();
    let client_id = credentials.client_id();
    // Failures count per client *and* source address: counting per client
    // alone would let anyone lock a client out with its public id.
    let attempt_key = peer.key_for(client_id);
    if let Err(retry_after) = state.brute_force.check(&attempt_key, now) {
        return Err(WebError::Json {
            status: StatusCode::TOO_MANY_REQUESTS,
            error: OAuthError::invalid_client(
                "too many failed authentication attempts; try again later",
            ),
            basic_challenge: false,
            retry_after: Some(retry_after),
        });
    }
    let client = state.store.client(client_id).await.or_json()?;
    let authenticated = match (&client, credentials) {
        (
            Some(c),
            ClientAuthentication::Basic { secret, .. } | ClientAuthentication::Post { secret, .. },
        ) => c
            .secret_hash
            .as_deref()
            .is_some_and(|stored| state.client_secrets.verify(secret.expose(), stored)),
        (Some(c), ClientAuthentication::None { .. }) => c.is_public(),
        (None, _) => false,
    };
    match client {
        Some(c) if authenticated => {
            state.brute_force.record_success(&attempt_key);
            Ok(c)
        }
        _ => {
            if state.brute_force.record_failure(&attempt_key, now) {
                tracing::warn!(
                    client_id,
                    "client locked out after repeated authentication failures"
                );
                record_event(
                    state,
                    "client_authentication_lockout",
                    Some(client_id),
                    None,
                    None,
                    "too many failed client authentications; the client is locked out for a while",
                )
                .await;
            }
            Err(auth_error(AuthenticationError::invalid_client(
                "client authentication failed",
                credentials.used_basic(),
            )))
        }
    }
}
