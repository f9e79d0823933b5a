//! HTML pages: login, consent, the server's own home page and error pages,
//! with the headers every AS page carries (RFC 9700 §4.16 clickjacking,
//! §4.2.4 referrer leaks), each under the server's display name.
//!
//! Templates are compiled into the binary and auto-escaped (minijinja escapes
//! every value in `.html` templates), so reflected values cannot inject markup.

use std::sync::LazyLock;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::Environment;

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    let templates = [
        ("base.html", include_str!("templates/base.html")),
        ("login.html", include_str!("templates/login.html")),
        ("consent.html", include_str!("templates/consent.html")),
        ("home.html", include_str!("templates/home.html")),
        ("error.html", include_str!("templates/error.html")),
        ("logged_out.html", include_str!("templates/logged_out.html")),
        (
            "logout_confirm.html",
            include_str!("templates/logout_confirm.html"),
        ),
    ];
    for (name, source) in templates {
        if let Err(e) = env.add_template(name, source) {
            tracing::error!(template = name, error = %e, "a built-in template does not compile");
        }
    }
    env
});

/// The stylesheet the pages link to (served from `/static/tessera.css`).
pub const STYLESHEET: &str = include_str!("static/tessera.css");

/// The Content-Security-Policy of every page: no scripts at all, styles only
/// from this origin, and no framing (clickjacking). `form-action` is left out
/// on purpose: browsers apply it to the redirect after a form post, which
/// would block the redirect back to the client.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Renders a template into a response with the page security headers.
/// Every page also gets `display_name`, the server's own name (issue 12
/// item 10: the user sees whose page this is), and `base` unless the
/// handler gave it.
pub fn render(status: StatusCode, template: &str, context: minijinja::Value) -> Response {
    let site = SITE.try_with(Clone::clone).unwrap_or_default();
    let context = minijinja::context! {
        ..context,
        ..minijinja::context! { base => site.base, display_name => site.display_name }
    };
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

/// What every page of this server shows, whoever renders it.
#[derive(Debug, Clone)]
pub struct Site {
    /// The issuer's path: the stylesheet and forms live under it.
    pub base: String,
    /// The server's display name (`Presentation::display_name`).
    pub display_name: String,
}

impl Default for Site {
    fn default() -> Self {
        Self {
            base: String::new(),
            display_name: "Tessera".to_owned(),
        }
    }
}

tokio::task_local! {
    /// The site of the request being answered, so that error pages, which
    /// are built without the state at hand, link the stylesheet under the
    /// issuer's path and carry the server's name (set for every request by
    /// [`crate::router`]).
    pub static SITE: Site;
}

pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    render(status, "error.html", minijinja::context! { title, message })
}

/// Adds the headers every HTML page needs.
pub fn with_page_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        for name in [
            "base.html",
            "login.html",
            "consent.html",
            "error.html",
            "home.html",
        ] {
            assert!(TEMPLATES.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn reflected_values_are_escaped() {
        let html = TEMPLATES
            .get_template("error.html")
            .and_then(|t| t.render(minijinja::context! { title => "t", message => "\"><script>alert(1)</script>{{7*7}}" }))
            .unwrap_or_default();
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(
            html.contains("{{7*7}}"),
            "template syntax in values is not evaluated"
        );
    }
}
