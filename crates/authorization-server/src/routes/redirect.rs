//! Sending the browser on: the redirects of the browser flow, with the
//! status the method calls for and no caching or referrer.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::app::authorization::Next;
use crate::error::WebError;
use crate::state::AppState;

/// How the browser reached us: a redirect answering a POST must be 303 so the
/// browser switches to GET and never re-posts credentials (RFC 9700 §4.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Get,
    Post,
}

pub fn redirect(location: &str, via: Via) -> Response {
    let status = match via {
        Via::Get => StatusCode::FOUND,
        Via::Post => StatusCode::SEE_OTHER,
    };
    match HeaderValue::from_str(location) {
        Ok(v) => {
            let mut r = status.into_response();
            r.headers_mut().insert(header::LOCATION, v);
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r.headers_mut().insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            );
            r
        }
        Err(_) => WebError::bad_request_page("The return address cannot be used.").into_response(),
    }
}

/// The redirect to where a use case says the browser goes next.
pub fn to(state: &AppState, next: &Next, via: Via) -> Response {
    match next {
        Next::Client(location) => redirect(location, via),
        Next::Login(request_id) => redirect(
            &format!("{}/login?request={request_id}", state.config.base_path()),
            via,
        ),
        Next::Consent(request_id) => redirect(
            &format!("{}/consent?request={request_id}", state.config.base_path()),
            via,
        ),
    }
}
