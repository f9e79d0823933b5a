//! `GET|POST /consent`: the consent page and form; the use case is
//! [`crate::app::authorization::consent`].

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tessera_core::params::Params;
use tessera_core::scope::Scope;

use super::FormBody;
use super::redirect::{self, Via};
use super::source::SourceAddress;
use crate::app::authorization::consent::{self, ConsentForm, ConsentPage};
use crate::error::WebError;
use crate::state::AppState;
use crate::{pages, session};

pub async fn page(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    let request_id = params.single("request").ok().flatten();
    let (p, user) = match consent::page(&state, session::cookie(&state, &headers), request_id).await
    {
        Ok(ConsentPage::Show { pending, user }) => (pending, user),
        Ok(ConsentPage::Elsewhere(next)) => return redirect::to(&state, &next, Via::Get),
        Err(e) => return WebError::from_app_page(e).into_response(),
    };
    // The name and host come from the registration, never from the request
    // (consent phishing, RFC 9700 §4.15).
    let redirect_host = url::Url::parse(&p.request.redirect.uri)
        .ok()
        .map(|u| {
            u.host_str()
                .map_or_else(|| u.scheme().to_owned(), str::to_owned)
        })
        .unwrap_or_default();
    // `openid` is a fixed line, not a checkbox (issue 12 item 3): refusing
    // it is refusing the request.
    let words = &state.config.presentation;
    let (optional, fixed): (Vec<&str>, Vec<&str>) = p
        .request
        .scope
        .iter()
        .partition(|s| tessera_core::consent::is_optional(s));
    pages::render(
        StatusCode::OK,
        "consent.html",
        minijinja::context! {
            title => "Allow access?",
            base => state.config.base_path(),
            client_name => p.client.name,
            redirect_host,
            fixed => words.described(fixed.into_iter()),
            optional => words.described(optional.into_iter()),
            csrf_token => p.session.csrf_token,
            request_id => p.request_id,
            username => user.username,
        },
    )
}

pub async fn submit(
    State(state): State<AppState>,
    SourceAddress(source): SourceAddress,
    headers: HeaderMap,
    FormBody(body): FormBody,
) -> Result<Response, WebError> {
    let params = Params::parse(&body);
    // Nothing is decided on a form with a field holding a NUL or bytes
    // that are not UTF-8, even one the decision does not read.
    if params.first_malformed().is_some() {
        return Err(WebError::bad_request_page(
            "The consent form was sent with a malformed field.",
        ));
    }
    let field = |name: &str| {
        params.single(name).map_err(|_| {
            WebError::bad_request_page(
                "The consent form was sent with a repeated or malformed field.",
            )
        })
    };
    let checked = Scope::from_tokens(
        params
            .all("scope")
            .filter(|v| !v.is_empty())
            .map(str::to_owned),
    )
    .map_err(|_| WebError::bad_request_page("The consent form was sent with a malformed scope."))?;
    let form = ConsentForm {
        csrf_token: field("csrf_token")?,
        decision: field("decision")?,
        request_id: params.single("request").ok().flatten(),
        checked,
        source,
    };
    let next = consent::decide(&state, session::cookie(&state, &headers), form)
        .await
        .map_err(WebError::from_app_page)?;
    Ok(redirect::to(&state, &next, Via::Post))
}
