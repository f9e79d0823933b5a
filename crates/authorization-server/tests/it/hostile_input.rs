//! Issue 13 item 5: every endpoint answers hostile input (bytes that are
//! not UTF-8, malformed percent-escapes, NUL bytes, oversize values,
//! bodies, URIs and headers, wrong or missing content types, repeated
//! parameters) with a clear 4xx in its own shape (OAuth JSON on the back
//! channel, a page in the browser, an RFC 6750 challenge at UserInfo),
//! never a 5xx, and writes nothing: every table's row count is the same
//! after all of it. Runs on PostgreSQL too (CI re-runs the suite with
//! `TESSERA_TEST_BACKEND=postgres`).

use crate::harness::*;

/// What an answer must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// `application/json` with an `error` member (RFC 6749 §5.2).
    OAuthJson,
    /// An HTML page.
    Page,
    /// RFC 6750 §3: `WWW-Authenticate: Bearer`, or its JSON body.
    Bearer,
    /// Once the client and redirect URI are trusted, an error goes back to
    /// the client (RFC 6749 §4.1.2.1): `303` to c1's redirect URI with
    /// `error=invalid_request`.
    RedirectError,
}

struct Case {
    name: String,
    method: reqwest::Method,
    /// Path and query, under the issuer.
    target: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    header: Option<(&'static str, Vec<u8>)>,
    /// Which browser sends it (its cookies): 0 none, 1 at login, 2 at consent.
    browser: usize,
    status: u16,
    shape: Shape,
}

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
const BIG: usize = 20 * 1024;

fn get(name: &str, target: String, browser: usize, status: u16, shape: Shape) -> Case {
    Case {
        name: name.to_owned(),
        method: reqwest::Method::GET,
        target,
        content_type: None,
        body: Vec::new(),
        header: None,
        browser,
        status,
        shape,
    }
}

fn post(
    name: &str,
    path: &str,
    content_type: Option<&'static str>,
    body: impl Into<Vec<u8>>,
    browser: usize,
    status: u16,
    shape: Shape,
) -> Case {
    Case {
        name: name.to_owned(),
        method: reqwest::Method::POST,
        target: path.to_owned(),
        content_type,
        body: body.into(),
        header: None,
        browser,
        status,
        shape,
    }
}

fn with_header(mut case: Case, name: &'static str, value: impl Into<Vec<u8>>) -> Case {
    case.header = Some((name, value.into()));
    case
}

/// The same form body in every malformed way a form can be, for one POST
/// endpoint: `good` is a well-formed body, `field` one of its fields.
fn form_cases(
    endpoint: &str,
    path: &str,
    good: &str,
    field: &str,
    browser: usize,
    shape: Shape,
    basic: Option<String>,
) -> Vec<Case> {
    let with = |value: &str| format!("{good}&{field}={value}");
    let without_field = good
        .split('&')
        .filter(|p| !p.starts_with(&format!("{field}=")))
        .collect::<Vec<_>>()
        .join("&");
    let replaced = |value: &str| format!("{without_field}&{field}={value}");
    // At /authorize the client and redirect URI of `good` are trusted, so
    // what is wrong elsewhere goes back to the client.
    let (later, later_status) = if path == "/authorize" {
        (Shape::RedirectError, 303)
    } else {
        (shape, 400)
    };
    let mut raw = replaced("").into_bytes();
    raw.extend_from_slice(b"\xff\xfe");
    let cases = vec![
        post(
            &format!("{endpoint}: not UTF-8"),
            path,
            FORM,
            replaced("%FF%FE"),
            browser,
            400,
            shape,
        ),
        post(
            &format!("{endpoint}: raw bytes that are not UTF-8"),
            path,
            FORM,
            raw,
            browser,
            400,
            shape,
        ),
        post(
            &format!("{endpoint}: a NUL"),
            path,
            FORM,
            replaced("a%00b"),
            browser,
            400,
            shape,
        ),
        post(
            &format!("{endpoint}: repeated"),
            path,
            FORM,
            with("x"),
            browser,
            later_status,
            later,
        ),
        post(
            &format!("{endpoint}: a name not UTF-8"),
            path,
            FORM,
            format!("{good}&%C3=1"),
            browser,
            later_status,
            later,
        ),
        post(
            &format!("{endpoint}: an oversize value"),
            path,
            FORM,
            replaced(&"a".repeat(BIG)),
            browser,
            413,
            shape,
        ),
        post(
            &format!("{endpoint}: JSON"),
            path,
            Some("application/json"),
            format!("{{\"{field}\": \"x\"}}"),
            browser,
            400,
            shape,
        ),
        post(
            &format!("{endpoint}: multipart"),
            path,
            Some("multipart/form-data; boundary=b"),
            format!(
                "--b\r\nContent-Disposition: form-data; name=\"{field}\"\r\n\r\nx\r\n--b--\r\n"
            ),
            browser,
            400,
            shape,
        ),
        post(
            &format!("{endpoint}: no content type"),
            path,
            None,
            good.to_owned(),
            browser,
            400,
            shape,
        ),
    ];
    cases
        .into_iter()
        .map(|c| match &basic {
            Some(b) => with_header(c, "authorization", b.clone()),
            None => c,
        })
        .collect()
}

#[tokio::test]
async fn issue13_item5_hostile_input_is_a_clear_4xx_and_writes_nothing() {
    let app = TestApp::spawn().await;
    // A browser at the login page of a parked request, and one signed in at
    // the consent page: their forms (CSRF token, request id) are real, so
    // only the hostile part is wrong.
    let at_login = app.browser();
    let r = at_login.authorize(&AuthRequest::new("c1")).await;
    let login_url = location(&r);
    let login = at_login.form_at(&login_url).await;
    let at_consent = app.browser();
    let r = at_consent.authorize(&AuthRequest::new("c1")).await;
    let r = at_consent.login(&location(&r), ALICE, ALICE_PASSWORD).await;
    let consent_url = location(&r);
    assert!(consent_url.contains("/consent"), "{consent_url}");
    let consent = at_consent.form_at(&consent_url).await;
    let encode = |fields: &[(String, String)]| {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish()
    };
    let login_form = encode(&login.fields);
    let consent_form = format!("{}&decision=approve", encode(&consent.fields));
    let request_id = login.get("request").expect("request id").to_owned();

    let authorize = AuthRequest::new("c1").query();
    let authorize_without = |name: &str| AuthRequest::new("c1").remove(name).query();
    let c1 = basic_header("c1", C1_SECRET);
    let rs1 = basic_header("rs1", RS1_SECRET);
    let long = "a".repeat(9 * 1024);

    let mut cases = vec![
        // GET /authorize: the client or the state is unusable → a page.
        get(
            "authorize: client_id not UTF-8",
            format!(
                "/authorize?{}&client_id=%FF",
                authorize_without("client_id")
            ),
            0,
            400,
            Shape::Page,
        ),
        get(
            "authorize: client_id with a NUL",
            format!(
                "/authorize?{}&client_id=c%001",
                authorize_without("client_id")
            ),
            0,
            400,
            Shape::Page,
        ),
        get(
            "authorize: client_id malformed percent-escape",
            format!(
                "/authorize?{}&client_id=%zz",
                authorize_without("client_id")
            ),
            0,
            400,
            Shape::Page,
        ),
        get(
            "authorize: client_id repeated",
            format!("/authorize?{authorize}&client_id=c1"),
            0,
            400,
            Shape::Page,
        ),
        get(
            "authorize: redirect_uri not UTF-8",
            format!(
                "/authorize?{}&redirect_uri=https://client.example/cb%FF",
                authorize_without("redirect_uri")
            ),
            0,
            400,
            Shape::Page,
        ),
        get(
            "authorize: state not UTF-8",
            format!("/authorize?{}&state=ab%C3", authorize_without("state")),
            0,
            400,
            Shape::Page,
        ),
        get(
            "authorize: state with a NUL",
            format!("/authorize?{}&state=a%00", authorize_without("state")),
            0,
            400,
            Shape::Page,
        ),
        get(
            "authorize: an oversize URI",
            format!("/authorize?{authorize}&x={long}"),
            0,
            414,
            Shape::Page,
        ),
        with_header(
            get(
                "authorize: oversize headers",
                format!("/authorize?{authorize}"),
                0,
                431,
                Shape::Page,
            ),
            "x-padding",
            "a".repeat(17 * 1024),
        ),
        // GET /login and /consent with a request id that is not one.
        get(
            "login page: request not UTF-8",
            "/login?request=%FF".into(),
            1,
            400,
            Shape::Page,
        ),
        get(
            "login page: request repeated",
            format!("/login?request={request_id}&request={request_id}"),
            1,
            400,
            Shape::Page,
        ),
        get(
            "login page: an oversize URI",
            format!("/login?request={long}"),
            1,
            414,
            Shape::Page,
        ),
        get(
            "consent page: request not UTF-8",
            "/consent?request=%FF%00".into(),
            2,
            400,
            Shape::Page,
        ),
        // GET /end_session.
        get(
            "end_session: client_id not UTF-8",
            "/end_session?client_id=%FF".into(),
            0,
            400,
            Shape::Page,
        ),
        get(
            "end_session: a NUL",
            "/end_session?state=%00".into(),
            0,
            400,
            Shape::Page,
        ),
        get(
            "end_session: an oversize URI",
            format!("/end_session?id_token_hint={long}"),
            0,
            414,
            Shape::Page,
        ),
        // UserInfo: its refusals are RFC 6750's.
        with_header(
            get(
                "userinfo: a token not ASCII",
                "/userinfo".into(),
                0,
                400,
                Shape::Bearer,
            ),
            "authorization",
            b"Bearer \xff\xfe".to_vec(),
        ),
        with_header(
            get(
                "userinfo: a token with a space",
                "/userinfo".into(),
                0,
                400,
                Shape::Bearer,
            ),
            "authorization",
            "Bearer a b",
        ),
        get(
            "userinfo: an oversize URI",
            format!("/userinfo?x={long}"),
            0,
            414,
            Shape::OAuthJson,
        ),
        post(
            "userinfo: token not UTF-8",
            "/userinfo",
            FORM,
            "access_token=%FF",
            0,
            400,
            Shape::Bearer,
        ),
        post(
            "userinfo: JSON",
            "/userinfo",
            Some("application/json"),
            "{\"access_token\":\"x\"}",
            0,
            401,
            Shape::Bearer,
        ),
        post(
            "userinfo: an oversize form",
            "/userinfo",
            FORM,
            format!("access_token={}", "a".repeat(BIG)),
            0,
            413,
            Shape::Bearer,
        ),
    ];
    cases.extend(form_cases(
        "POST authorize",
        "/authorize",
        &authorize,
        "state",
        0,
        Shape::Page,
        None,
    ));
    cases.extend(form_cases(
        "POST login",
        "/login",
        &login_form,
        "username",
        1,
        Shape::Page,
        None,
    ));
    cases.extend(form_cases(
        "POST consent",
        "/consent",
        &consent_form,
        "csrf_token",
        2,
        Shape::Page,
        None,
    ));
    cases.extend(form_cases(
        "POST end_session",
        "/end_session",
        "client_id=c1&state=s",
        "client_id",
        0,
        Shape::Page,
        None,
    ));
    cases.extend(form_cases(
        "token",
        "/token",
        "grant_type=authorization_code&code=abc&redirect_uri=https%3A%2F%2Fclient.example%2Fcb",
        "code",
        0,
        Shape::OAuthJson,
        Some(c1.clone()),
    ));
    cases.extend(form_cases(
        "introspect",
        "/introspect",
        "token=abc",
        "token",
        0,
        Shape::OAuthJson,
        Some(rs1.clone()),
    ));
    cases.extend(form_cases(
        "revoke",
        "/revoke",
        "token=abc",
        "token",
        0,
        Shape::OAuthJson,
        Some(c1.clone()),
    ));
    cases.push(with_header(
        post(
            "token: oversize headers",
            "/token",
            FORM,
            "grant_type=client_credentials",
            0,
            431,
            Shape::OAuthJson,
        ),
        "x-padding",
        "a".repeat(17 * 1024),
    ));
    cases.push(with_header(
        post(
            "token: Basic not UTF-8",
            "/token",
            FORM,
            "grant_type=client_credentials",
            0,
            401,
            Shape::OAuthJson,
        ),
        "authorization",
        format!(
            "Basic {}",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b"c1\xff:x")
        ),
    ));
    cases.push(with_header(
        post(
            "token: Basic not base64",
            "/token",
            FORM,
            "grant_type=client_credentials",
            0,
            401,
            Shape::OAuthJson,
        ),
        "authorization",
        "Basic %%%",
    ));
    cases.push(post(
        "token: a grant_type with a malformed escape",
        "/token",
        FORM,
        "grant_type=%zz&client_id=p1",
        0,
        400,
        Shape::OAuthJson,
    ));

    let before = app.row_counts().await;
    let browsers = [app.browser(), at_login, at_consent];
    let mut failures = Vec::new();
    for case in &cases {
        let http = &browsers[case.browser].http;
        let mut req = http.request(case.method.clone(), app.url(&case.target));
        if let Some(ct) = case.content_type {
            req = req.header("content-type", ct);
        }
        if let Some((name, value)) = &case.header {
            let value = reqwest::header::HeaderValue::from_bytes(value).expect("header value");
            req = req.header(*name, value);
        }
        if case.method == reqwest::Method::POST {
            req = req.body(case.body.clone());
        }
        let r = req.send().await.expect(&case.name);
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap_or_default();
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let shaped = match case.shape {
            Shape::OAuthJson => {
                content_type.starts_with("application/json")
                    && serde_json::from_str::<serde_json::Value>(&text)
                        .is_ok_and(|b| b["error"].is_string())
            }
            Shape::Page => content_type.starts_with("text/html") && text.contains("</html>"),
            Shape::Bearer => {
                headers
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.starts_with("Bearer"))
                    || serde_json::from_str::<serde_json::Value>(&text)
                        .is_ok_and(|b| b["error"].is_string())
            }
            Shape::RedirectError => headers
                .get("location")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|l| {
                    l.starts_with(C1_REDIRECT)
                        && param(l, "error").as_deref() == Some("invalid_request")
                        && param(l, "code").is_none()
                }),
        };
        if status != case.status || !shaped {
            failures.push(format!(
                "{}: {status} {content_type} (want {} {:?}): {}",
                case.name,
                case.status,
                case.shape,
                text.chars().take(200).collect::<String>()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_eq!(
        app.row_counts().await,
        before,
        "a hostile request wrote something"
    );
}
