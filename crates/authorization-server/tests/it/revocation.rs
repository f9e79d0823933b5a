//! Token revocation, RFC 7009 (docs/conformance.md §1G, items 57-63).
//!
//! Every effect is observed from outside: refresh tokens through the token
//! endpoint, access tokens through introspection by `rs1`, the resource
//! server of the fixture's default audience.

use crate::harness::*;

/// An access token lives 600 s.
/// A refresh that must succeed; returns the new token response.
async fn refreshed(app: &TestApp, client_id: &str, rt: &str) -> serde_json::Value {
    expect_token_response(app.refresh(client_id, rt).await).await
}

/// A refresh that must fail with `invalid_grant`.
async fn refresh_refused(app: &TestApp, client_id: &str, rt: &str, what: &str) {
    let r = app.refresh(client_id, rt).await;
    assert_eq!(r.status(), 400, "{what}: refresh must fail");
    expect_oauth_error(r, 400, "invalid_grant", &[rt]).await;
}

// =========================================================================
// 57. Revoking a refresh token revokes its grant
// =========================================================================

#[tokio::test]
async fn conformance_1g_57_revoking_a_refresh_token_revokes_its_family() {
    let app = TestApp::spawn().await;
    // A family: RT1 → (AT1), refreshed into RT2 → (AT2).
    let first = app.tokens_for("c1", "a b").await;
    let (at1, rt1) = (access_token(&first), refresh_token(&first));
    let second = refreshed(&app, "c1", &rt1).await;
    let (at2, rt2) = (access_token(&second), refresh_token(&second));
    // Another grant of the same user and client must not be touched.
    let other = app.tokens_for("c1", "a").await;
    let (other_at, other_rt) = (access_token(&other), refresh_token(&other));
    app.assert_active("rs1", &at1, "AT1 before").await;
    app.assert_active("rs1", &at2, "AT2 before").await;
    app.assert_active("rs1", &rt2, "RT2 before").await;

    app.revoke_ok(&rt2, Some("refresh_token"), auth_of("c1"))
        .await;

    // The refresh token no longer refreshes ...
    refresh_refused(&app, "c1", &rt2, "revoked RT2").await;
    refresh_refused(&app, "c1", &rt1, "RT1, rotated, of a revoked grant").await;
    // ... and every token of the grant is inactive (RFC 7009 §2.1).
    app.assert_inactive("rs1", &rt2, "revoked RT2").await;
    app.assert_inactive("rs1", &at1, "AT1 of the revoked grant")
        .await;
    app.assert_inactive("rs1", &at2, "AT2 of the revoked grant")
        .await;
    // Revoking again is harmless.
    app.revoke_ok(&rt2, Some("refresh_token"), auth_of("c1"))
        .await;

    // The other grant lives on.
    app.assert_active("rs1", &other_at, "another grant's AT")
        .await;
    app.assert_active("rs1", &other_rt, "another grant's RT")
        .await;
    refreshed(&app, "c1", &other_rt).await;
}

#[tokio::test]
async fn conformance_1g_57_revoking_an_earlier_refresh_token_ends_its_successors() {
    let app = TestApp::spawn().await;
    let first = app.tokens_for("c1", "a").await;
    let rt1 = refresh_token(&first);
    let second = refreshed(&app, "c1", &rt1).await;
    let (at2, rt2) = (access_token(&second), refresh_token(&second));

    // RT1 is already rotated; revoking it still revokes the family.
    app.revoke_ok(&rt1, None, auth_of("c1")).await;
    refresh_refused(&app, "c1", &rt2, "RT2, successor of the revoked RT1").await;
    app.assert_inactive("rs1", &at2, "AT2").await;
    app.assert_inactive("rs1", &rt2, "RT2").await;
}

#[tokio::test]
async fn conformance_1g_57_every_revocation_auth_method_works() {
    let app = TestApp::spawn().await;
    // client_secret_basic, client_secret_post, and none for a public client.
    for (client_id, auth) in [
        ("c1", ClientAuth::Basic("c1", C1_SECRET)),
        ("c1", ClientAuth::Post("c1", C1_SECRET)),
        ("p1", ClientAuth::Public("p1")),
    ] {
        let body = app.tokens_for(client_id, "a").await;
        let (at, rt) = (access_token(&body), refresh_token(&body));
        app.revoke_ok(&rt, Some("refresh_token"), auth).await;
        refresh_refused(&app, client_id, &rt, &format!("{auth:?}")).await;
        app.assert_inactive("rs1", &at, &format!("{auth:?}")).await;
    }
}

// =========================================================================
// 58. Revoking an access token
// =========================================================================

#[tokio::test]
async fn conformance_1g_58_revoking_an_access_token_leaves_the_grant_alive() {
    let app = TestApp::spawn().await;
    let first = app.tokens_for("c1", "a b").await;
    let (at1, rt1) = (access_token(&first), refresh_token(&first));
    let second = refreshed(&app, "c1", &rt1).await;
    let (at2, rt2) = (access_token(&second), refresh_token(&second));

    app.revoke_ok(&at2, Some("access_token"), auth_of("c1"))
        .await;
    app.assert_inactive("rs1", &at2, "revoked AT2").await;
    // The rest of the grant is untouched: AT1 and RT2 stay active, and RT2
    // still refreshes into an active token.
    app.assert_active("rs1", &at1, "AT1 of the same grant")
        .await;
    app.assert_active("rs1", &rt2, "RT2").await;
    let third = refreshed(&app, "c1", &rt2).await;
    app.assert_active("rs1", &access_token(&third), "AT3").await;

    // Without a hint, too.
    app.revoke_ok(&at1, None, auth_of("c1")).await;
    app.assert_inactive("rs1", &at1, "revoked AT1").await;

    // The deny list holds until expiry and after: a revoked token never
    // comes back.
    app.clock.advance(ACCESS_TOKEN_TTL - 1);
    app.assert_inactive("rs1", &at2, "revoked AT2 before its expiry")
        .await;
    app.clock.advance(10);
    app.assert_inactive("rs1", &at2, "revoked AT2 after its expiry")
        .await;
    // Revoking an expired token is still a 200.
    app.revoke_ok(&at2, None, auth_of("c1")).await;
}

#[tokio::test]
async fn conformance_1g_58_revoking_a_client_credentials_token() {
    let app = TestApp::spawn().await;
    let at = access_token(&expect_token_response(app.client_credentials("svc", &[]).await).await);
    let other =
        access_token(&expect_token_response(app.client_credentials("svc", &[]).await).await);
    app.assert_active("rs1", &at, "before").await;
    app.revoke_ok(&at, Some("access_token"), auth_of("svc"))
        .await;
    app.assert_inactive("rs1", &at, "revoked").await;
    app.assert_active("rs1", &other, "another token of svc")
        .await;
}

// =========================================================================
// 59. Unknown tokens
// =========================================================================

#[tokio::test]
async fn conformance_1g_59_unknown_or_garbage_tokens_are_200() {
    let app = TestApp::spawn().await;
    let body = app.tokens_for("c1", "a").await;
    let (at, rt) = (access_token(&body), refresh_token(&body));
    let long = "x".repeat(8 * 1024);
    let forged_jwt = {
        // A real token's header and claims with another signature.
        let parts: Vec<&str> = at.split('.').collect();
        format!("{}.{}.{}", parts[0], parts[1], "A".repeat(86))
    };
    let rt_prefix = &rt[..rt.len() - 1];
    for (what, token) in [
        (
            "random",
            "a3F0bWlzc2luZy10b2tlbi0wMTIzNDU2Nzg5YWJjZGVmZ2hpams",
        ),
        ("garbage", "garbage"),
        ("dots", "..."),
        ("JWT-shaped", "eyJhbGciOiJub25lIn0.eyJqdGkiOiJ4In0.sig"),
        ("forged JWT", forged_jwt.as_str()),
        ("a refresh token minus one character", rt_prefix),
        ("non-ASCII", "jeton-à-révoquer-✓"),
        ("long", long.as_str()),
    ] {
        for hint in [None, Some("access_token"), Some("refresh_token")] {
            let r = Reply::read(app.revoke(token, hint, auth_of("c1")).await).await;
            assert_eq!(r.status, 200, "{what} ({hint:?}): {}", r.text);
            assert_no_store(&r);
        }
    }
    // None of that touched the real tokens.
    app.assert_active("rs1", &at, "AT").await;
    refreshed(&app, "c1", &rt).await;
}

// =========================================================================
// 60. Wrong and unknown hints
// =========================================================================

#[tokio::test]
async fn conformance_1g_60_wrong_or_unknown_hint_still_revokes() {
    let app = TestApp::spawn().await;
    for hint in ["access_token", "id_token", "bogus"] {
        let body = app.tokens_for("c1", "a").await;
        let (at, rt) = (access_token(&body), refresh_token(&body));
        app.revoke_ok(&rt, Some(hint), auth_of("c1")).await;
        refresh_refused(&app, "c1", &rt, &format!("RT revoked with hint {hint}")).await;
        app.assert_inactive("rs1", &at, &format!("AT of the grant (hint {hint})"))
            .await;
    }
    for hint in ["refresh_token", "id_token", "bogus"] {
        let body = app.tokens_for("c1", "a").await;
        let (at, rt) = (access_token(&body), refresh_token(&body));
        app.revoke_ok(&at, Some(hint), auth_of("c1")).await;
        app.assert_inactive("rs1", &at, &format!("AT revoked with hint {hint}"))
            .await;
        app.assert_active("rs1", &rt, &format!("RT of the grant (hint {hint})"))
            .await;
    }
}

// =========================================================================
// 61. Another client's token
// =========================================================================

#[tokio::test]
async fn conformance_1g_61_another_clients_token_is_not_revoked() {
    let app = TestApp::spawn().await;
    let body = app.tokens_for("c1", "a").await;
    let (at, rt) = (access_token(&body), refresh_token(&body));
    let svc_at =
        access_token(&expect_token_response(app.client_credentials("svc", &[]).await).await);

    // c2, the public p1, the resource server rs1 (which may introspect c1's
    // tokens, not revoke them) and svc: each gets a 200 and changes nothing.
    for auth in [
        auth_of("c2"),
        ClientAuth::Post("c2", C2_SECRET),
        auth_of("p1"),
        auth_of("rs1"),
        auth_of("svc"),
    ] {
        for hint in [None, Some("refresh_token"), Some("access_token")] {
            for token in [&rt, &at] {
                let r = Reply::read(app.revoke(token, hint, auth).await).await;
                assert_eq!(r.status, 200, "{auth:?} {hint:?}: {}", r.text);
            }
        }
    }
    let r = Reply::read(app.revoke(&svc_at, None, auth_of("c1")).await).await;
    assert_eq!(r.status, 200, "c1 revoking svc's token: {}", r.text);

    app.assert_active("rs1", &at, "c1's AT").await;
    app.assert_active("rs1", &rt, "c1's RT").await;
    app.assert_active("rs1", &svc_at, "svc's AT").await;
    // The refresh token keeps working for its owner.
    refreshed(&app, "c1", &rt).await;
}

// =========================================================================
// 62. Client authentication and the token parameter
// =========================================================================

#[tokio::test]
async fn conformance_1g_62_client_authentication_is_required() {
    let app = TestApp::spawn().await;
    let body = app.tokens_for("c1", "a").await;
    let (at, rt) = (access_token(&body), refresh_token(&body));

    for token in [&rt, &at] {
        // No authentication at all.
        let a = expect_oauth_error(
            app.revoke(token, None, ClientAuth::Nothing).await,
            401,
            "invalid_client",
            &[token],
        )
        .await;
        assert!(a.header("www-authenticate").is_none());
        // A confidential client naming itself without its secret.
        expect_oauth_error(
            app.revoke(token, None, ClientAuth::Public("c1")).await,
            401,
            "invalid_client",
            &[token],
        )
        .await;
        // A wrong secret in the body: 401 without a challenge.
        let a = expect_oauth_error(
            app.revoke(
                token,
                None,
                ClientAuth::Post("c1", "wrong-secret-0123456789-0123456789"),
            )
            .await,
            401,
            "invalid_client",
            &[token, "wrong-secret"],
        )
        .await;
        assert!(a.header("www-authenticate").is_none());
        // A wrong secret with Basic: 401 with the Basic challenge.
        let a = expect_oauth_error(
            app.revoke(
                token,
                None,
                ClientAuth::Basic("c1", "wrong-secret-0123456789-0123456789"),
            )
            .await,
            401,
            "invalid_client",
            &[token, "wrong-secret"],
        )
        .await;
        assert_eq!(
            a.header("www-authenticate"),
            Some("Basic realm=\"tessera\"")
        );
        // An unknown client.
        expect_oauth_error(
            app.revoke(token, None, ClientAuth::Basic("nobody", C1_SECRET))
                .await,
            401,
            "invalid_client",
            &[token],
        )
        .await;
    }
    // Credentials in the query string do not count (RFC 6749 §2.3.1).
    let r = app
        .http()
        .post(app.url(&format!("/revoke?client_id=c1&client_secret={C1_SECRET}")))
        .form(&[("token", rt.as_str())])
        .send()
        .await
        .unwrap();
    expect_oauth_error(r, 401, "invalid_client", &[&rt]).await;

    // None of the failed attempts revoked anything.
    app.assert_active("rs1", &at, "AT").await;
    refreshed(&app, "c1", &rt).await;
}

#[tokio::test]
async fn conformance_1g_62_token_is_required() {
    let app = TestApp::spawn().await;
    let body = app.tokens_for("c1", "a").await;
    let rt = refresh_token(&body);

    // No token, and an empty one (empty parameters count as omitted).
    for form in [
        vec![("token_type_hint", "refresh_token")],
        vec![("token", "")],
    ] {
        let r = app.post_form("/revoke", &form, auth_of("c1")).await;
        expect_oauth_error(r, 400, "invalid_request", &[]).await;
    }
    // A repeated token (RFC 6749 §3.2: parameters are sent once) revokes
    // neither.
    let r = app
        .post_form(
            "/revoke",
            &[("token", rt.as_str()), ("token", "other")],
            auth_of("c1"),
        )
        .await;
    expect_oauth_error(r, 400, "invalid_request", &[&rt]).await;
    // A body that is not a form.
    let r = app
        .http()
        .post(app.url("/revoke"))
        .header("authorization", basic_header("c1", C1_SECRET))
        .json(&serde_json::json!({ "token": rt }))
        .send()
        .await
        .unwrap();
    expect_oauth_error(r, 400, "invalid_request", &[&rt]).await;
    refreshed(&app, "c1", &rt).await;
}

#[tokio::test]
async fn revocation_accepts_only_post() {
    let app = TestApp::spawn().await;
    let body = app.tokens_for("c1", "a").await;
    let rt = refresh_token(&body);
    for method in [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let r = app
            .http()
            .request(method.clone(), app.url(&format!("/revoke?token={rt}")))
            .header("authorization", basic_header("c1", C1_SECRET))
            .send()
            .await
            .unwrap();
        let a = expect_oauth_error(r, 405, "invalid_request", &[&rt]).await;
        assert_eq!(a.header("allow"), Some("POST"), "{method}");
    }
    refreshed(&app, "c1", &rt).await;
}

// =========================================================================
// 63. Fail closed
// =========================================================================

/// A revocation that must fail with 503 `temporarily_unavailable`, never 200.
async fn expect_unavailable(r: reqwest::Response, what: &str, token: &str) {
    assert_ne!(
        r.status(),
        200,
        "{what}: a storage failure must never read as success"
    );
    let a = expect_oauth_error(r, 503, "temporarily_unavailable", &[token]).await;
    assert!(
        !a.text.contains("injected failure"),
        "{what}: the cause stays in the logs: {}",
        a.text
    );
}

#[tokio::test]
async fn conformance_1g_63_storage_failure_is_503_never_200() {
    let app = TestApp::builder().faulty().spawn().await;
    let faults = app.faults();
    let body = app.tokens_for("c1", "a").await;
    let (at, rt) = (access_token(&body), refresh_token(&body));

    // The whole token store is down.
    faults.fail(TOKEN_STORE_METHODS);
    for (token, hint) in [
        (&rt, Some("refresh_token")),
        (&rt, None),
        (&at, Some("access_token")),
        (&at, Some("refresh_token")),
    ] {
        expect_unavailable(
            app.revoke(token, hint, auth_of("c1")).await,
            "store down",
            token,
        )
        .await;
    }
    // Even an unknown token: the server cannot tell it is unknown.
    expect_unavailable(
        app.revoke("unknown-token", None, auth_of("c1")).await,
        "unknown token, store down",
        "unknown-token",
    )
    .await;
    // Introspection fails the same way, never saying "active".
    let r = app.introspect(&at, auth_of("rs1")).await;
    expect_oauth_error(r, 503, "temporarily_unavailable", &[&at]).await;

    // Lookups work but the writes fail: the token was found, yet not revoked.
    faults.fail(&["revoke_grant"]);
    expect_unavailable(
        app.revoke(&rt, Some("refresh_token"), auth_of("c1")).await,
        "revoke_grant fails",
        &rt,
    )
    .await;
    faults.fail(&["revoke_access_token"]);
    expect_unavailable(
        app.revoke(&at, Some("access_token"), auth_of("c1")).await,
        "revoke_access_token fails",
        &at,
    )
    .await;
    // Only the lookup of the hinted kind fails: the other kind is not
    // reported as "unknown".
    faults.fail(&["refresh_token"]);
    expect_unavailable(
        app.revoke(&rt, Some("access_token"), auth_of("c1")).await,
        "refresh lookup fails",
        &rt,
    )
    .await;
    faults.fail(&["access_token_by_jti", "access_token_by_hash"]);
    expect_unavailable(
        app.revoke(&at, Some("refresh_token"), auth_of("c1")).await,
        "access lookup fails",
        &at,
    )
    .await;

    // Back to health: nothing was revoked, and revoking now works.
    faults.heal();
    app.assert_active("rs1", &at, "AT after the failed revocations")
        .await;
    app.assert_active("rs1", &rt, "RT after the failed revocations")
        .await;
    app.revoke_ok(&at, None, auth_of("c1")).await;
    app.assert_inactive("rs1", &at, "AT revoked once the store is back")
        .await;
    app.assert_active("rs1", &rt, "RT").await;
    app.revoke_ok(&rt, None, auth_of("c1")).await;
    app.assert_inactive("rs1", &rt, "RT revoked once the store is back")
        .await;
}
