//! The tests of `authorize.rs`: the two validation steps, request by
//! request.

use super::*;
use crate::secrets::TokenHash;
use std::collections::BTreeSet;

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn client(public: bool) -> Client {
    Client {
        client_id: "c1".into(),
        name: "C1".into(),
        secret_hash: (!public).then(|| "h".into()),
        redirect_uris: vec!["https://client.example/cb".into()],
        scopes: Scope::parse("a b").unwrap_or_default(),
        grant_types: BTreeSet::from([GrantType::AuthorizationCode]),
        require_pkce: true,
        introspect: false,
        resource: None,
        access_token_format: None,
        id_token_signed_response_alg: None,
        post_logout_redirect_uris: Vec::new(),
    }
}

fn run(query: &str) -> Result<AuthorizationRequest, ErrorCode> {
    let params = Params::parse(query.as_bytes());
    let c = client(true);
    let redirect = trust_redirect(&params, &c).map_err(|_| ErrorCode::InvalidRequest)?;
    validate(&params, &c, redirect)
        .and_then(|v| v.decide(None, "https://default.example", T, None))
        .map_err(|e| e.error.code)
}

const T: crate::UnixTime = 1_800_000_000;

fn base() -> String {
    format!(
        "response_type=code&client_id=c1&scope=a&state=xyz&code_challenge={CHALLENGE}&code_challenge_method=S256"
    )
}

#[test]
fn a_good_request_validates() {
    let r = run(&base());
    assert_eq!(r.as_ref().map(|r| r.scope.to_string()), Ok("a".to_owned()));
    assert_eq!(r.map(|r| r.redirect.state), Ok(Some("xyz".to_owned())));
}

#[test]
fn conformance_1a_4_errors_after_the_redirect_is_trusted() {
    let b = base();
    let cases = [
        (
            b.replace("response_type=code&", ""),
            ErrorCode::InvalidRequest,
        ),
        (
            b.replace("response_type=code", "response_type=token"),
            ErrorCode::UnsupportedResponseType,
        ),
        (
            b.replace("scope=a", "scope=unknown_scope"),
            ErrorCode::InvalidScope,
        ),
        (format!("{b}&state=b"), ErrorCode::InvalidRequest),
        (format!("{b}&scope=b"), ErrorCode::InvalidRequest),
        (
            b.replace(
                &format!("&code_challenge={CHALLENGE}&code_challenge_method=S256"),
                "",
            ),
            ErrorCode::InvalidRequest,
        ),
        (b.replace("S256", "S512"), ErrorCode::InvalidRequest),
        (b.replace("S256", "plain"), ErrorCode::InvalidRequest),
        (b.replace(CHALLENGE, "tooshort"), ErrorCode::InvalidRequest),
        (
            format!("{b}&request_uri=urn:bogus"),
            ErrorCode::RequestUriNotSupported,
        ),
        (
            format!("{b}&prompt=none%20login"),
            ErrorCode::InvalidRequest,
        ),
    ];
    for (q, code) in cases {
        assert_eq!(run(&q).err(), Some(code), "{q}");
    }
}

/// Issue 13 (medium): anonymous `/authorize` requests stored a `state`
/// of any length. Every value that is stored with a parked request is
/// capped; the exact limits pass.
#[test]
fn issue13_stored_parameters_are_capped() {
    let b = base();
    let long = |n: usize| "x".repeat(n);
    let at_limit = [
        b.replace("state=xyz", &format!("state={}", long(MAX_STATE_LEN))),
        format!("{b}&nonce={}", long(MAX_NONCE_LEN)),
        format!("{b}&id_token_hint={}", long(MAX_ID_TOKEN_HINT_LEN)),
    ];
    for q in at_limit {
        assert!(run(&q).is_ok(), "{}", &q[..80]);
    }
    let over = [
        (
            format!("{b}&nonce={}", long(MAX_NONCE_LEN + 1)),
            ErrorCode::InvalidRequest,
        ),
        (
            format!("{b}&id_token_hint={}", long(MAX_ID_TOKEN_HINT_LEN + 1)),
            ErrorCode::InvalidRequest,
        ),
        (
            format!("{b}&resource=https://r.example/{}", long(MAX_RESOURCE_LEN)),
            ErrorCode::InvalidTarget,
        ),
    ];
    for (q, code) in over {
        assert_eq!(run(&q).err(), Some(code), "{}", &q[..80]);
    }
    // An oversize state cannot be echoed: a page, never a redirect.
    let q = b.replace("state=xyz", &format!("state={}", long(MAX_STATE_LEN + 1)));
    let params = Params::parse(q.as_bytes());
    assert_eq!(
        trust_redirect(&params, &client(true)).err(),
        Some(UntrustedRequest::OversizeState)
    );
}

#[test]
fn the_oidc_scopes_are_requestable_by_code_flow_clients_only() {
    let b = base();
    let r = run(&b.replace("scope=a", "scope=openid%20profile%20email%20a"));
    assert_eq!(
        r.map(|r| r.scope.to_string()),
        Ok("a email openid profile".to_owned())
    );
    let mut machine = client(false);
    machine.grant_types = BTreeSet::from([GrantType::ClientCredentials]);
    assert!(!machine.requestable_scopes().contains("openid"));
    assert_eq!(
        run(&b.replace("scope=a", "scope=offline_access")).err(),
        Some(ErrorCode::InvalidScope)
    );
}

#[test]
fn oidc_hints_are_kept_and_a_login_hint_that_is_no_username_is_dropped() {
    let b = base();
    let r = run(&format!(
        "{b}&login_hint=alice&id_token_hint=a.b.c&display=popup&ui_locales=se&acr_values=1"
    ));
    let r = r.unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(r.login_hint.as_deref(), Some("alice"));
    assert_eq!(r.id_token_hint.as_deref(), Some("a.b.c"));
    let long = "x".repeat(65);
    let r = run(&format!("{b}&login_hint={long}")).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(r.login_hint, None);
    assert_eq!(
        run(&format!("{b}&request=eyJhbGciOiJub25lIn0.e30.")).err(),
        Some(ErrorCode::RequestNotSupported)
    );
}

#[test]
fn conformance_1a_7_unknown_and_empty_parameters_are_ignored() {
    assert!(run(&format!("{}&extra=foobar&nonce=", base())).is_ok());
}

#[test]
fn conformance_1a_2_client_and_redirect_uri_errors_are_untrusted() {
    assert_eq!(
        identify_client(&Params::parse(b"scope=a")),
        Err(UntrustedRequest::MissingClientId)
    );
    assert_eq!(
        identify_client(&Params::parse(b"client_id=a&client_id=b")),
        Err(UntrustedRequest::RepeatedClientId)
    );
    let c = client(false);
    let p = Params::parse(b"redirect_uri=https%3A%2F%2Fclient.example%2Fcb&redirect_uri=https%3A%2F%2Fclient.example%2Fcb");
    assert_eq!(
        trust_redirect(&p, &c),
        Err(UntrustedRequest::RepeatedRedirectUri)
    );
    let p = Params::parse(b"redirect_uri=https%3A%2F%2Fevil.example%2Fcb");
    assert_eq!(
        trust_redirect(&p, &c),
        Err(UntrustedRequest::UnregisteredRedirectUri)
    );
}

#[test]
fn conformance_1a_6_error_location_carries_state_and_iss() {
    let redirect = TrustedRedirect {
        uri: "https://client.example/cb".into(),
        explicit: true,
        state: Some("a b+&c=😀".into()),
    };
    let e = RedirectError {
        redirect,
        error: OAuthError::new(ErrorCode::AccessDenied, "no"),
    };
    let loc = e.location("http://localhost:9001");
    let parsed = url::Url::parse(&loc).ok();
    let pairs: Vec<(String, String)> = parsed
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default();
    assert!(pairs.contains(&("state".into(), "a b+&c=😀".into())));
    assert!(pairs.contains(&("iss".into(), "http://localhost:9001".into())));
    assert!(pairs.contains(&("error".into(), "access_denied".into())));
}

fn decided(query: &str, session: Option<&TokenHash>) -> AuthorizationRequest {
    let params = Params::parse(format!("{}&{query}", base()).as_bytes());
    let c = client(true);
    let redirect = trust_redirect(&params, &c).unwrap_or_else(|e| panic!("{e:?}"));
    validate(&params, &c, redirect)
        .and_then(|v| v.decide(None, "https://default.example", T, session))
        .unwrap_or_else(|e| panic!("{e:?}"))
}

/// OIDC Core §3.1.2.1 `max_age`: a login exactly `max_age` old counts,
/// one a second older does not.
#[test]
fn oidc_max_age_edges_a_login_exactly_max_age_old_counts() {
    let session = TokenHash::of("session");
    let r = decided("max_age=100", Some(&session));
    assert!(r.accepts_login(T - 100, &session));
    assert!(!r.accepts_login(T - 101, &session));
    assert!(r.accepts_login(T + 5, &session));
    let none = decided("extra=1", Some(&session));
    assert!(none.accepts_login(0, &session), "no demand, any login");
}

/// OIDC Core errata: `max_age=0` is `prompt=login`. The login the browser
/// had when the request arrived never counts, even from the same second;
/// the login made for the request (which comes with a new session) does,
/// even in that same second.
#[test]
fn oidc_max_age_0_and_prompt_login_demand_a_login_made_for_the_request() {
    let arrived_in = TokenHash::of("session at arrival");
    let after_login = TokenHash::of("session after login");
    for query in ["max_age=0", "prompt=login", "prompt=select_account"] {
        let r = decided(query, Some(&arrived_in));
        assert!(r.demands_new_login(), "{query}");
        assert!(!r.accepts_login(T, &arrived_in), "{query}: same second");
        assert!(
            !r.accepts_login(T + 60, &arrived_in),
            "{query}: later, same session"
        );
        assert!(
            r.accepts_login(T, &after_login),
            "{query}: new login, same second"
        );
        assert!(
            !r.accepts_login(T - 1, &after_login),
            "{query}: older than the request"
        );
    }
    // Without a session at arrival there is no login to refuse.
    let r = decided("max_age=0", None);
    assert!(r.accepts_login(T, &after_login));
}

#[test]
fn rfc8707_an_unregistered_resource_is_invalid_target_at_the_redirect_uri() {
    let params = Params::parse(format!("{}&resource=https://unknown.example", base()).as_bytes());
    let c = client(true);
    let redirect = trust_redirect(&params, &c).unwrap_or_else(|e| panic!("{e:?}"));
    let v = validate(&params, &c, redirect).unwrap_or_else(|e| panic!("{e:?}"));
    assert_eq!(v.resource(), Some("https://unknown.example"));
    let e = v.decide(None, "https://default.example", T, None).err();
    assert_eq!(e.map(|e| e.error.code), Some(ErrorCode::InvalidTarget));
    let r = decided("extra=1", None);
    assert_eq!(r.audience, "https://default.example");
}

/// Issue 13 item 5: a `state` that cannot be echoed exactly (not UTF-8,
/// or a NUL) is refused as a page, never sent back rewritten.
#[test]
fn issue13_a_state_that_is_not_utf8_is_refused_not_rewritten() {
    let c = client(true);
    for bad in ["%FF", "ab%C3", "a%00"] {
        let params =
            Params::parse(format!("{}&state={bad}", base().replace("&state=xyz", "")).as_bytes());
        assert_eq!(
            trust_redirect(&params, &c),
            Err(UntrustedRequest::MalformedState),
            "{bad}"
        );
    }
    // An unregistered redirect URI is still what the page says first.
    let params = Params::parse(b"client_id=c1&redirect_uri=https://evil.example/&state=%FF");
    assert_eq!(
        trust_redirect(&params, &c),
        Err(UntrustedRequest::UnregisteredRedirectUri)
    );
    // A U+FFFD sent as such is echoed as sent.
    let params = Params::parse(b"client_id=c1&state=%EF%BF%BD");
    assert_eq!(
        trust_redirect(&params, &c).map(|r| r.state),
        Ok(Some("\u{FFFD}".to_owned()))
    );
}

proptest::proptest! {
    /// Any query is answered with a request, a redirect error or a page
    /// error, never a panic; whatever `state` is echoed is exactly the
    /// one sent.
    #[test]
    fn any_authorization_request_is_answered(extra in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..96), state in "\\PC{0,12}") {
        let mut query = base().replace("state=xyz", "").into_bytes();
        query.extend_from_slice(b"&");
        query.extend_from_slice(&extra);
        let _ = run(std::str::from_utf8(&query).unwrap_or_default());
        let params = Params::parse(&query);
        let c = client(false);
        if let Ok(redirect) = trust_redirect(&params, &c) {
            if let Ok(Some(sent)) = params.single("state") {
                proptest::prop_assert_eq!(redirect.state.as_deref(), Some(sent));
            }
            let _ = validate(&params, &c, redirect);
        }
        let encoded: String = form_urlencoded::byte_serialize(state.as_bytes()).collect();
        let with_state = format!("{}&state={encoded}", base().replace("&state=xyz", ""));
        let params = Params::parse(with_state.as_bytes());
        let expected = (!state.is_empty() && !state.contains('\0')).then_some(state.as_str());
        match trust_redirect(&params, &c) {
            Ok(redirect) => proptest::prop_assert_eq!(redirect.state.as_deref(), expected),
            Err(e) => proptest::prop_assert!(state.contains('\0') && e == UntrustedRequest::MalformedState),
        }
    }
}
