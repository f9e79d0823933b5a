//! The stylesheet and the two small scripts, compiled into the binary: the
//! pages load nothing from the network.

use axum::http::header;
use axum::response::IntoResponse;

use crate::pages::{DANCE_SCRIPT, PRINT_SCRIPT, STYLESHEET};

pub async fn stylesheet() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        STYLESHEET,
    )
}

pub async fn dance_script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        DANCE_SCRIPT,
    )
}

pub async fn print_script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        PRINT_SCRIPT,
    )
}
