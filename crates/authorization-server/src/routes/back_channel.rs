//! The back channel's one extractor (token, revocation, introspection):
//! the form body (never the query, RFC 6749 §2.3.1; no parameter repeated),
//! the client's authentication (RFC 6749 §2.3, with brute-force lockout per
//! client and source address, the source read through the trusted proxies) and the time the request was received, read
//! once and used by the whole request.

use std::marker::PhantomData;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};
use tessera_core::UnixTime;
use tessera_core::client::Client;
use tessera_core::error::OAuthError;
use tessera_core::params::Params;
use tessera_core::token_request::{self, AuthenticationError};

use super::BackChannelBody;
use super::source::SourceAddress;
use crate::app::{budgets, client_auth};
use crate::error::WebError;
use crate::state::AppState;

/// A back-channel endpoint, and the client authentication methods it
/// accepts: the very list its metadata advertises.
pub trait Endpoint {
    const AUTH_METHODS: &'static [&'static str];
}

/// `/token` (RFC 6749 §3.2).
#[derive(Debug)]
pub enum Token {}
/// `/revoke` (RFC 7009).
#[derive(Debug)]
pub enum Revocation {}
/// `/introspect` (RFC 7662): confidential clients only.
#[derive(Debug)]
pub enum Introspection {}

impl Endpoint for Token {
    const AUTH_METHODS: &'static [&'static str] = token_request::AUTH_METHODS;
}
impl Endpoint for Revocation {
    const AUTH_METHODS: &'static [&'static str] = token_request::AUTH_METHODS;
}
impl Endpoint for Introspection {
    const AUTH_METHODS: &'static [&'static str] = token_request::INTROSPECTION_AUTH_METHODS;
}

/// An authenticated back-channel request to the endpoint `E`.
#[derive(Debug)]
pub struct AuthenticatedClient<E> {
    pub client: Client,
    pub params: Params,
    /// When the request was received: the one clock reading of the request.
    pub received_at: UnixTime,
    /// Where it came from (through the trusted proxies).
    pub source: Option<std::net::IpAddr>,
    endpoint: PhantomData<E>,
}

impl<E: Endpoint> FromRequest<AppState> for AuthenticatedClient<E> {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let SourceAddress(source) =
            SourceAddress::of(state, req.headers(), SourceAddress::peer(req.extensions()));
        let form = super::is_form(req.headers());
        let authorization = authorization(req.headers());
        let BackChannelBody(body) = BackChannelBody::from_request(req, state).await?;
        let params = parse_form(form, &body)?;
        let credentials = token_request::client_authentication(authorization?.as_deref(), &params)
            .map_err(|e| WebError::from_app_json(e.into()))?;
        let received_at = state.now();
        let client = async {
            budgets::before_authentication(state, source, received_at).await?;
            let client = client_auth::authenticate(
                state,
                &credentials,
                E::AUTH_METHODS,
                source,
                received_at,
            )
            .await?;
            budgets::after_authentication(state, &client, source, received_at).await?;
            Ok(client)
        }
        .await
        .map_err(WebError::from_app_json)?;
        Ok(Self {
            client,
            params,
            received_at,
            source,
            endpoint: PhantomData,
        })
    }
}

/// The form's parameters; a body that is no form, or repeats a parameter,
/// is `invalid_request`.
fn parse_form(is_form: bool, body: &Bytes) -> Result<Params, WebError> {
    if !is_form {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        )
        .into());
    }
    let params = Params::parse(body);
    params.reject_malformed()?;
    Ok(params)
}

/// The one `Authorization` header, if any; a repeated one is
/// `invalid_request`, an unreadable one `invalid_client`.
fn authorization(headers: &HeaderMap) -> Result<Option<String>, WebError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(v), None) => v.to_str().map(|s| Some(s.to_owned())).map_err(|_| {
            WebError::from_app_json(
                AuthenticationError::invalid_client("malformed Authorization header", true).into(),
            )
        }),
        (Some(_), Some(_)) => {
            Err(OAuthError::invalid_request("the Authorization header was repeated").into())
        }
    }
}
