//! Calling a protected resource with the access token, refreshing once.

use reqwest::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};

use crate::client::OAuthClient;
use crate::error::Error;
use crate::observe;
use crate::tokens::Tokens;

impl OAuthClient {
    /// Sends `request` with `Authorization: Bearer` (the only method: a
    /// request that already has an `Authorization` header or an
    /// `access_token` query parameter is refused, RFC 9700 §4.3.2). On a 401
    /// `invalid_token`, refreshes once (updating `tokens`) and retries once;
    /// a refresh answered `invalid_grant` is
    /// [`Error::ReauthorizationRequired`]. Any other response is returned.
    pub async fn call_with_retry(
        &self,
        tokens: &mut Tokens,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, Error> {
        let (http, request) = request.build_split();
        let request = request?;
        if request.headers().contains_key(AUTHORIZATION)
            || request
                .url()
                .query_pairs()
                .any(|(k, _)| k == "access_token")
        {
            return Err(Error::Request("the request already carries credentials"));
        }
        let retry = request
            .try_clone()
            .ok_or(Error::Request("the request body cannot be sent twice"))?;
        let response = execute(&http, with_bearer(request, tokens)?).await?;
        if !is_invalid_token(&response) {
            return Ok(response);
        }
        *tokens = self.refresh(tokens).await?;
        execute(&http, with_bearer(retry, tokens)?).await
    }
}

/// Sends the request, reporting it to the observer (if any) without its
/// body: the resource's answer is the caller's to read.
async fn execute(
    http: &reqwest::Client,
    request: reqwest::Request,
) -> Result<reqwest::Response, Error> {
    let mut seen = observe::Exchange {
        method: request.method().to_string(),
        url: observe::bare_url(request.url().as_str()),
        authorization: request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(observe::redact_authorization),
        request: Vec::new(),
        status: None,
        response: Vec::new(),
        challenge: None,
    };
    let result = http.execute(request).await;
    if let Ok(response) = &result {
        seen.status = Some(response.status().as_u16());
        seen.challenge = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
    }
    observe::report(|| seen);
    Ok(result?)
}

fn with_bearer(mut request: reqwest::Request, tokens: &Tokens) -> Result<reqwest::Request, Error> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", tokens.access_token.expose()))
        .map_err(|_| Error::Request("the access token is not a valid header value"))?;
    value.set_sensitive(true);
    request.headers_mut().insert(AUTHORIZATION, value);
    Ok(request)
}

/// RFC 6750 §3.1: a 401 whose Bearer challenge says `invalid_token`.
fn is_invalid_token(response: &reqwest::Response) -> bool {
    response.status() == reqwest::StatusCode::UNAUTHORIZED
        && response
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("error=\"invalid_token\""))
}
