//! The authorization endpoint's request validation (RFC 6749 §4.1.1, §4.1.2.1;
//! RFC 7636; RFC 9207; OAuth 2.1 §4.1).
//!
//! Validation happens in two steps, in this order, because a redirect to an
//! unvalidated URI is an open redirector (Authlib CVE-2026-41479, Spring AS
//! CVE-2026-41008):
//! 1. [`identify_client`] and [`trust_redirect`]: who is asking and where the
//!    answer may go. Failures here are shown to the user as a page
//!    ([`UntrustedRequest`]), never redirected.
//! 2. [`validate`]: everything else. Failures go back to the now-trusted
//!    redirect URI with `error`, `state` and `iss` ([`RedirectError`]).

use crate::client::{Client, GrantType};
use crate::error::{ErrorCode, OAuthError};
use crate::params::Params;
use crate::pkce::CodeChallenge;
use crate::redirect_uri;
use crate::scope::Scope;

pub use crate::authorization_request::{
    AuthorizationRequest, Prompt, RedirectError, TrustedRedirect, ValidatedRequest,
};

/// The response types served (and advertised): the code flow only.
pub const RESPONSE_TYPES: &[&str] = &["code"];
/// The response modes served (and advertised).
pub const RESPONSE_MODES: &[&str] = &["query"];
/// The `prompt` values understood (and advertised); see [`Prompt`].
pub const PROMPT_VALUES: &[&str] = &["none", "login", "consent", "select_account"];

/// A request that cannot be answered by redirect: the client or the redirect
/// URI is not trusted. Shown as an HTML error page with status 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UntrustedRequest {
    #[error("The request does not say which application is asking (client_id is missing).")]
    MissingClientId,
    #[error("The request names the application more than once (client_id is repeated).")]
    RepeatedClientId,
    #[error(
        "The application's name in the request is malformed (client_id contains a NUL character or bytes that are not UTF-8)."
    )]
    MalformedClientId,
    #[error("The application is not registered here (unknown client_id).")]
    UnknownClient,
    #[error("The request names the return address more than once (redirect_uri is repeated).")]
    RepeatedRedirectUri,
    #[error("The return address (redirect_uri) is not registered for this application.")]
    UnregisteredRedirectUri,
    #[error(
        "The request does not say where to return (redirect_uri is required because this application registered several)."
    )]
    MissingRedirectUri,
    #[error("This application has no registered return address.")]
    NoRegisteredRedirectUri,
    #[error(
        "The request's state is too long (more than 2048 characters); the application must send a shorter one."
    )]
    OversizeState,
    /// A `state` that cannot be echoed exactly (RFC 6749 §4.1.2: the exact
    /// value the client sent) is refused here rather than sent back
    /// rewritten (invalid UTF-8 would come back as U+FFFD), which the client
    /// could not match and would take for a forged response.
    #[error(
        "The request's state cannot be returned to the application exactly (it contains a NUL character or bytes that are not UTF-8)."
    )]
    MalformedState,
}

/// The longest `state` accepted, in bytes. A client keeps a random value or
/// a short reference there; a longer one is refused with a page (it could
/// not be echoed back in a `Location` header safely, and it would be stored
/// with the parked request).
pub const MAX_STATE_LEN: usize = 2048;
/// The longest `nonce` accepted (OIDC Core §3.1.2.1 asks for enough entropy,
/// which a few dozen characters give).
pub const MAX_NONCE_LEN: usize = 512;
/// The longest `id_token_hint` accepted (an ID token we signed: a few
/// hundred bytes of claims and a signature).
pub const MAX_ID_TOKEN_HINT_LEN: usize = 8192;
/// The longest `resource` accepted (it must name a registered resource).
pub const MAX_RESOURCE_LEN: usize = 2048;

/// Step 1a: the `client_id` to look up.
pub fn identify_client(params: &Params) -> Result<&str, UntrustedRequest> {
    params
        .single("client_id")
        .map_err(|e| match e {
            crate::params::ParamError::Repeated(_) => UntrustedRequest::RepeatedClientId,
            crate::params::ParamError::Nul(_) | crate::params::ParamError::InvalidUtf8(_) => {
                UntrustedRequest::MalformedClientId
            }
        })?
        .ok_or(UntrustedRequest::MissingClientId)
}

/// Step 1b: the redirect URI, checked against the client's registration.
pub fn trust_redirect(
    params: &Params,
    client: &Client,
) -> Result<TrustedRedirect, UntrustedRequest> {
    let requested = params.single("redirect_uri").map_err(|e| match e {
        crate::params::ParamError::Repeated(_) => UntrustedRequest::RepeatedRedirectUri,
        // No registered URI holds a NUL or anything but UTF-8.
        crate::params::ParamError::Nul(_) | crate::params::ParamError::InvalidUtf8(_) => {
            UntrustedRequest::UnregisteredRedirectUri
        }
    })?;
    let (uri, explicit) =
        redirect_uri::resolve(&client.redirect_uris, requested).map_err(|_| {
            match (requested, client.redirect_uris.len()) {
                (Some(_), _) => UntrustedRequest::UnregisteredRedirectUri,
                (None, 0) => UntrustedRequest::NoRegisteredRedirectUri,
                (None, _) => UntrustedRequest::MissingRedirectUri,
            }
        })?;
    // A repeated `state` is no state (the request is then refused back at
    // the redirect URI, without one); one that cannot be echoed exactly, or
    // is too long to echo and store, is refused here, as a page.
    let state = match params.single("state") {
        Ok(Some(state)) if state.len() > MAX_STATE_LEN => {
            return Err(UntrustedRequest::OversizeState);
        }
        Ok(state) => state.map(str::to_owned),
        Err(crate::params::ParamError::Repeated(_)) => None,
        Err(_) => return Err(UntrustedRequest::MalformedState),
    };
    Ok(TrustedRedirect {
        uri: uri.to_owned(),
        explicit,
        state,
    })
}

/// The `Location` of a successful authorization response.
pub fn success_location(redirect: &TrustedRedirect, code: &str, issuer: &str) -> String {
    let mut params = vec![("code", code)];
    if let Some(state) = &redirect.state {
        params.push(("state", state));
    }
    params.push(("iss", issuer));
    redirect_uri::with_response_params(&redirect.uri, &params)
}

/// Step 2: everything after the client and redirect URI are trusted.
pub fn validate(
    params: &Params,
    client: &Client,
    redirect: TrustedRedirect,
) -> Result<ValidatedRequest, RedirectError> {
    match validate_inner(params, client) {
        Ok(v) => Ok(ValidatedRequest::new(AuthorizationRequest {
            client_id: client.client_id.clone(),
            redirect,
            scope: v.scope,
            resource: v.resource,
            audience: String::new(),
            code_challenge: v.code_challenge,
            prompt: v.prompt,
            nonce: v.nonce,
            max_age: v.max_age,
            min_auth_time: None,
            refused_session: None,
            login_hint: v.login_hint,
            id_token_hint: v.id_token_hint,
        })),
        Err(error) => Err(RedirectError { redirect, error }),
    }
}

struct Validated {
    scope: Scope,
    resource: Option<String>,
    code_challenge: Option<CodeChallenge>,
    prompt: Prompt,
    nonce: Option<String>,
    max_age: Option<i64>,
    login_hint: Option<String>,
    id_token_hint: Option<String>,
}

fn validate_inner(params: &Params, client: &Client) -> Result<Validated, OAuthError> {
    // RFC 8707 allows several resources; we issue tokens for one audience.
    if params.all("resource").count() > 1 {
        return Err(OAuthError::new(
            ErrorCode::InvalidTarget,
            "only one resource may be requested",
        ));
    }
    // RFC 6749 §3.1: parameters MUST NOT be included more than once.
    params.reject_malformed()?;

    match params.single("response_type")? {
        None => return Err(OAuthError::invalid_request("response_type is required")),
        Some(t) if RESPONSE_TYPES.contains(&t) => {}
        Some(_) => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            ));
        }
    }
    match params.single("response_mode")? {
        None => {}
        Some(m) if RESPONSE_MODES.contains(&m) => {}
        Some(_) => {
            return Err(OAuthError::invalid_request(
                "only response_mode=query is supported",
            ));
        }
    }
    // Request objects are not supported yet; we never fetch a request_uri
    // (SSRF, docs/conformance.md item 98).
    if params.single("request")?.is_some() {
        return Err(OAuthError::new(
            ErrorCode::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if params.single("request_uri")?.is_some() {
        return Err(OAuthError::new(
            ErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }
    if !client.allows(GrantType::AuthorizationCode) {
        return Err(OAuthError::unauthorized_client(
            "this client is not allowed the authorization code flow",
        ));
    }

    let scope = match params.single("scope")? {
        None => return Err(OAuthError::invalid_scope("scope is required")),
        Some(s) => Scope::parse(s).map_err(|_| OAuthError::invalid_scope("scope is malformed"))?,
    };
    if scope.is_empty() {
        return Err(OAuthError::invalid_scope("scope is required"));
    }
    if !scope.is_subset(&client.requestable_scopes()) {
        return Err(OAuthError::invalid_scope(
            "the requested scope is not allowed for this client",
        ));
    }

    let code_challenge = CodeChallenge::from_request(
        params.single("code_challenge")?,
        params.single("code_challenge_method")?,
    )?;
    if code_challenge.is_none() && client.pkce_required() {
        return Err(OAuthError::invalid_request(
            "code_challenge is required (PKCE with S256)",
        ));
    }

    let prompt = parse_prompt(params.single("prompt")?)?;
    let max_age = match params.single("max_age")? {
        None => None,
        Some(s) => Some(s.parse::<i64>().ok().filter(|v| *v >= 0).ok_or_else(|| {
            OAuthError::invalid_request("max_age must be a non-negative integer")
        })?),
    };

    let capped = |name: &'static str, max: usize| -> Result<Option<String>, OAuthError> {
        match params.single(name)? {
            Some(v) if v.len() > max => Err(OAuthError::new(
                if name == "resource" {
                    ErrorCode::InvalidTarget
                } else {
                    ErrorCode::InvalidRequest
                },
                match name {
                    "nonce" => "nonce is too long (at most 512 characters)",
                    "id_token_hint" => "id_token_hint is too long",
                    _ => "resource is too long (at most 2048 characters)",
                },
            )),
            v => Ok(v.map(str::to_owned)),
        }
    };
    Ok(Validated {
        scope,
        resource: capped("resource", MAX_RESOURCE_LEN)?,
        code_challenge,
        prompt,
        nonce: capped("nonce", MAX_NONCE_LEN)?,
        max_age,
        // Only a prefill, so one that is not a plausible username is dropped
        // rather than refused (OIDC Core §3.1.2.1: a hint, not a demand).
        login_hint: params
            .single("login_hint")?
            .filter(|h| h.chars().count() <= 64 && !h.chars().any(char::is_control))
            .map(str::to_owned),
        id_token_hint: capped("id_token_hint", MAX_ID_TOKEN_HINT_LEN)?,
    })
}

fn parse_prompt(value: Option<&str>) -> Result<Prompt, OAuthError> {
    let mut prompt = Prompt::default();
    let Some(value) = value else {
        return Ok(prompt);
    };
    for v in value.split(' ').filter(|v| !v.is_empty()) {
        // What is advertised is what is accepted: PROMPT_VALUES decides.
        if !PROMPT_VALUES.contains(&v) {
            return Err(OAuthError::invalid_request("prompt has an unknown value"));
        }
        match v {
            "none" => prompt.none = true,
            "consent" => prompt.consent = true,
            // `login`, and `select_account`: one account per session, so
            // choosing one means signing in again.
            _ => prompt.login = true,
        }
    }
    if prompt.none && (prompt.login || prompt.consent) {
        return Err(OAuthError::invalid_request(
            "prompt=none cannot be combined with other values",
        ));
    }
    Ok(prompt)
}

#[cfg(test)]
mod tests;
