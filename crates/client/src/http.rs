//! The bridge from oauth2's `AsyncHttpClient` to the workspace's reqwest.
//!
//! oauth2 5's own `reqwest` feature is built against another reqwest major
//! version; this adapter lets the protocol requests go through the same
//! reqwest (TLS settings, connection pool) as the rest of the workspace.

use std::future::Future;
use std::pin::Pin;

use oauth2::http;
use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};

/// A reqwest client that never follows redirects: a token endpoint that
/// redirects must not be able to send our credentials somewhere else.
#[derive(Clone)]
pub(crate) struct Http(pub(crate) reqwest::Client);

impl Http {
    pub(crate) fn new() -> Result<Self, reqwest::Error> {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // A server that accepts and never answers must not hold a
            // caller (and the browser session it has locked) forever.
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(15))
            .build()
            .map(Self)
    }
}

/// Transport failures only; never carries a request or response body, so a
/// token cannot leak through an error message.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("HTTP request failed: {0}")]
    Request(#[from] reqwest::Error),
    #[error("could not build the HTTP response")]
    Response,
}

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = TransportError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, TransportError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let mut seen = crate::observe::Exchange {
                method: parts.method.to_string(),
                url: crate::observe::bare_url(&parts.uri.to_string()),
                authorization: parts
                    .headers
                    .get(http::header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .map(crate::observe::redact_authorization),
                request: crate::observe::form_fields(&body),
                status: None,
                response: Vec::new(),
                challenge: None,
            };
            let response = self
                .0
                .request(parts.method, parts.uri.to_string())
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                // The error may carry the URL; the URL of a token endpoint
                // holds no secret (oauth2 sends them in the body or header).
                .map_err(|e| {
                    let failed = seen.clone();
                    crate::observe::report(|| failed);
                    TransportError::Request(e.without_url())
                })?;
            let response_status = response.status();
            let challenge = response
                .headers()
                .get(http::header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let mut builder = http::Response::builder().status(response_status);
            if let Some(headers) = builder.headers_mut() {
                *headers = response.headers().clone();
            }
            let bytes = match response.bytes().await {
                Ok(b) => b,
                Err(e) => {
                    seen.status = Some(response_status.as_u16());
                    crate::observe::report(|| seen);
                    return Err(TransportError::Request(e.without_url()));
                }
            };
            seen.status = Some(response_status.as_u16());
            seen.response = crate::observe::json_fields(&bytes);
            seen.challenge = challenge;
            crate::observe::report(|| seen);
            builder
                .body(bytes.to_vec())
                .map_err(|_| TransportError::Response)
        })
    }
}
