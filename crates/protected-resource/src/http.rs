//! Requests to the authorization server: no redirects, a timeout, bounded
//! answers, and errors that explain themselves in the log.

use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde::de::DeserializeOwned;

use crate::config::ConfigError;

/// The largest answer read from the AS. A JWKS of a dozen RSA keys is a few
/// KiB; anything near this is not an answer we want.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

#[derive(Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
}

impl Http {
    pub(crate) fn new(timeout: Duration) -> Result<Self, ConfigError> {
        let client = reqwest::Client::builder()
            // A redirect would take the resource's credentials, or its trust,
            // somewhere nobody configured.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| ConfigError::HttpClient(e.to_string()))?;
        Ok(Self { client })
    }

    /// `GET url`, expecting `200` and JSON of type `T`.
    pub(crate) async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let req = self
            .client
            .get(url)
            .header(ACCEPT, HeaderValue::from_static("application/json"));
        read_json(url, req.send().await).await
    }

    /// `POST url` with a form body and an `Authorization` header, expecting
    /// `200` and JSON of type `T`.
    pub(crate) async fn post_form_json<T: DeserializeOwned>(
        &self,
        url: &str,
        authorization: &HeaderValue,
        form: String,
    ) -> Result<T, String> {
        let req = self
            .client
            .post(url)
            .header(AUTHORIZATION, authorization.clone())
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            )
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .body(form);
        read_json(url, req.send().await).await
    }
}

/// The reasons name the URL and what went wrong, never a request body (where
/// an introspected token travels).
async fn read_json<T: DeserializeOwned>(
    url: &str,
    sent: reqwest::Result<reqwest::Response>,
) -> Result<T, String> {
    let mut response = sent.map_err(|e| format!("{url}: {}", describe(&e)))?;
    let status = response.status();
    if status != reqwest::StatusCode::OK {
        return Err(format!("{url} answered {status}"));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
    {
        return Err(format!("{url} answered more than {MAX_ANSWER_BYTES} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("{url}: {}", describe(&e)))?
    {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(format!("{url} answered more than {MAX_ANSWER_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    // Only the position: serde's messages quote the offending value, which
    // could be anything the AS echoed, a token included.
    serde_json::from_slice(&body).map_err(|e| {
        format!(
            "{url} answered unusable JSON ({:?} error at line {} column {})",
            e.classify(),
            e.line(),
            e.column()
        )
    })
}

fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    // The source chain says why (connection refused, DNS, TLS) without the
    // URL, which the caller already names.
    let mut why = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        why = s.to_string();
        source = s.source();
    }
    if why.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind} ({why})")
    }
}
