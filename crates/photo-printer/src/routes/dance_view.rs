//! `/dance`: this browser session's OAuth exchange as a sequence diagram,
//! updated live through server-sent events.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use minijinja::context;

use crate::Printer;
use crate::error::PrinterError;
use crate::pages::render;

pub async fn page(
    State(printer): State<Printer>,
    headers: HeaderMap,
) -> Result<Response, PrinterError> {
    if let Some(redirect) = super::on_canonical_host(&printer, &headers, "/dance") {
        return Ok(redirect);
    }
    let (session, cookie) = printer.sessions().find_or_create(&headers)?;
    let flows = session.dance.flows();
    let count: usize = flows.iter().map(|f| f.steps.len()).sum();
    let page = render(
        StatusCode::OK,
        "dance.html",
        context! { title => "The OAuth dance", flows, count, csrf => &session.csrf },
    );
    Ok(super::with_cookie(page, cookie))
}

/// The diagram alone, for the script that refreshes it.
pub async fn steps(State(printer): State<Printer>, headers: HeaderMap) -> Response {
    let session = printer.sessions().find(&headers);
    let flows = session
        .as_ref()
        .map(|s| s.dance.flows())
        .unwrap_or_default();
    let count: usize = flows.iter().map(|f| f.steps.len()).sum();
    render(
        StatusCode::OK,
        "dance_steps.html",
        context! { flows, count },
    )
}

/// One `step` event whenever the session's log changes. The stream ends at
/// shutdown, so open dance pages do not hold the server up.
pub async fn events(State(printer): State<Printer>, headers: HeaderMap) -> Response {
    let Some(session) = printer.sessions().find(&headers) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let changes = session.dance.watch();
    let mut stopping = printer.stopping();
    let stream = futures_util::stream::unfold(changes, |mut rx| async move {
        rx.changed().await.ok()?;
        let version = *rx.borrow_and_update();
        Some((
            Ok::<_, Infallible>(Event::default().event("step").data(version.to_string())),
            rx,
        ))
    })
    .take_until(async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// `POST /dance/clear`: start the diagram afresh.
pub async fn clear(
    State(printer): State<Printer>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PrinterError> {
    let Some(session) = printer.sessions().find(&headers) else {
        return Ok(super::see_other("/dance", None));
    };
    super::check_csrf(&session, &body)?;
    session.dance.clear();
    Ok(super::see_other("/dance", None))
}
