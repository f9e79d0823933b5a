//! HTTP handlers, one module per endpoint. Each parses the request, calls one
//! use case of [`crate::app`] (which asks the core and the store), and shapes
//! the response.

pub mod authorize;
pub mod back_channel;
pub mod consent;
pub mod end_session;
pub mod home;
pub mod introspect;
pub mod jwks;
pub mod login;
pub mod metadata;
pub mod misc;
pub mod redirect;
pub mod revoke;
pub mod source;
pub mod token;
pub mod userinfo;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use tessera_core::error::OAuthError;
use tessera_core::params::Params;

use crate::error::WebError;
use crate::tokens::Hint;

/// The `token` and `token_type_hint` of a revocation or introspection
/// request (RFC 7009 §2.1, RFC 7662 §2.1).
pub fn token_and_hint(params: &Params) -> Result<(&str, Hint), WebError> {
    let token = params
        .single("token")
        .map_err(OAuthError::from)?
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    let hint = Hint::parse(params.single("token_type_hint").map_err(OAuthError::from)?);
    Ok((token, hint))
}

/// Whether the request body is `application/x-www-form-urlencoded` (any
/// parameters, such as a charset, are allowed).
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| {
            essence
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// A back-channel request body. One that is too large or cannot be read is
/// still answered with OAuth-shaped JSON, never axum's plain-text rejection.
#[derive(Debug)]
pub struct BackChannelBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for BackChannelBody {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Bytes::from_request(req, state)
            .await
            .map(Self)
            .map_err(|rejection| WebError::Json {
                status: rejection.status(),
                error: OAuthError::invalid_request(
                    "the request body is too large or could not be read",
                ),
                basic_challenge: false,
                retry_after: None,
            })
    }
}

/// A browser form body: `application/x-www-form-urlencoded`. One that is too
/// large or cannot be read, or is not a form, is answered with a readable
/// page.
#[derive(Debug)]
pub struct FormBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for FormBody {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let form = is_form(req.headers());
        let body = Bytes::from_request(req, state).await.map_err(|_| {
            WebError::page(
                StatusCode::PAYLOAD_TOO_LARGE,
                "This request cannot be completed",
                "The form sent was too large or could not be read.",
            )
        })?;
        if !form {
            return Err(WebError::bad_request_page(
                "The request was not sent as a form.",
            ));
        }
        Ok(Self(body))
    }
}
