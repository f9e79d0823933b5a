//! The start page.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::context;

use crate::Printer;
use crate::error::PrinterError;
use crate::pages::render;

pub async fn home(
    State(printer): State<Printer>,
    headers: HeaderMap,
) -> Result<Response, PrinterError> {
    if let Some(redirect) = super::on_canonical_host(&printer, &headers, "/") {
        return Ok(redirect);
    }
    let (session, cookie) = printer.sessions().find_or_create(&headers)?;
    let mut state = session.state.lock().await;
    let notice = state.notice.take();
    let panel = state
        .tokens
        .as_ref()
        .map(|t| super::token_panel(&printer, t, state.access_token_forgotten, state.revoked));
    drop(state);
    let page = render(
        StatusCode::OK,
        "home.html",
        context! { title => "Print your photos", notice, panel, csrf => &session.csrf },
    );
    Ok(super::with_cookie(page, cookie))
}
