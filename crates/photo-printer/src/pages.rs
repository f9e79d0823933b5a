//! The printer's HTML pages, rendered from templates compiled into the
//! binary (auto-escaped), with the headers every page carries.

use std::sync::LazyLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, context};
use serde::Serialize;

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    let templates = [
        ("base.html", include_str!("templates/base.html")),
        (
            "token_panel.html",
            include_str!("templates/token_panel.html"),
        ),
        ("home.html", include_str!("templates/home.html")),
        ("photos.html", include_str!("templates/photos.html")),
        ("print.html", include_str!("templates/print.html")),
        ("message.html", include_str!("templates/message.html")),
        ("dance.html", include_str!("templates/dance.html")),
        (
            "dance_steps.html",
            include_str!("templates/dance_steps.html"),
        ),
    ];
    for (name, source) in templates {
        if let Err(e) = env.add_template(name, source) {
            tracing::error!(template = name, error = %e, "a built-in template does not compile");
        }
    }
    env.add_filter("breakable", breakable);
    env
});

/// Escaped text with line-break opportunities (`<wbr>`) where a URL may
/// break: after each `/` that does not start `//`, and before `?` and `&`.
/// The dance view's narrow lanes then wrap a URL between its parts rather
/// than in the middle of a word.
fn breakable(text: &str) -> minijinja::Value {
    let mut out = String::with_capacity(text.len() + 16);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
        let next = chars.peek().copied();
        if (c == '/' && next != Some('/')) || matches!(next, Some('?' | '&')) {
            out.push_str("<wbr>");
        }
    }
    minijinja::Value::from_safe_string(out)
}

pub const STYLESHEET: &str = include_str!("static/printer.css");
pub const DANCE_SCRIPT: &str = include_str!("static/dance.js");
pub const PRINT_SCRIPT: &str = include_str!("static/print.js");

/// Scripts and styles only from this origin, images from this origin (the
/// photo proxy), no framing. No `form-action`: browsers apply it to the
/// redirect that follows a form post, which would block `/start`'s redirect
/// to the authorization server.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'";

pub fn render(status: StatusCode, template: &str, context: minijinja::Value) -> Response {
    let rendered = TEMPLATES
        .get_template(template)
        .and_then(|t| t.render(context));
    match rendered {
        Ok(html) => with_page_headers((status, Html(html)).into_response()),
        Err(e) => {
            tracing::error!(template, error = %e, "page rendering failed");
            with_page_headers(
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Html("<!doctype html><title>Error</title><p>Internal error.</p>"),
                )
                    .into_response(),
            )
        }
    }
}

/// A page with a heading and a message.
pub fn message(status: StatusCode, heading: &str, message: &str) -> Response {
    message_with_csrf(status, heading, message, None, "")
}

/// A page with a heading, a message and, with `action`, a button that
/// starts the authorization flow again (a form carrying `csrf`).
pub fn message_with_csrf(
    status: StatusCode,
    heading: &str,
    message: &str,
    action: Option<&str>,
    csrf: &str,
) -> Response {
    let kind = if status.is_success() { "info" } else { "error" };
    render(
        status,
        "message.html",
        context! { title => heading, heading, message, action, kind, csrf },
    )
}

fn with_page_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// What the token panel shows: facts about the tokens, never the tokens.
#[derive(Debug, Serialize)]
pub struct TokenPanel {
    pub granted: Vec<String>,
    pub refused: Vec<String>,
    pub access: String,
    pub refresh: String,
    /// Who logged in, from the verified ID token (scope `openid`).
    pub who: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_break_between_their_parts_and_stay_escaped() {
        assert_eq!(
            breakable("303 See Other → http://localhost:9001/authorize?a=1&b=<2>").to_string(),
            "303 See Other → http://<wbr>localhost:9001/<wbr>authorize<wbr>?a=1<wbr>&amp;b=&lt;2&gt;"
        );
        assert_eq!(breakable("photos:read").to_string(), "photos:read");
    }
}
