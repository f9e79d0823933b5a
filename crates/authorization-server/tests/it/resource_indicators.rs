//! Resource indicators, RFC 8707: `resource` selects the audience of the
//! access token, at the authorization and at the token endpoint.
//!
//! Fixture resources: PHOTOS (scopes a b c, the default audience, served by
//! `rs1`) and OTHER (scope a, served by `rs2`).

use serde_json::Value;

use crate::harness::*;

/// The authorization request answered with an error redirect to c1's
/// redirect URI carrying `error`, `state=xyz` and `iss`, and no code.
async fn expect_redirect_error(app: &TestApp, request: &AuthRequest, error: &str) {
    let r = app.browser().authorize(request).await;
    let loc = location(&r);
    assert!(r.status().is_redirection(), "{}: {loc}", r.status());
    assert!(
        loc.starts_with(&format!("{}?", request.redirect_uri)),
        "{loc}"
    );
    assert_eq!(param(&loc, "error").as_deref(), Some(error), "{loc}");
    assert_eq!(param(&loc, "state").as_deref(), Some("xyz"), "{loc}");
    assert_eq!(param(&loc, "iss").as_deref(), Some(app.issuer()), "{loc}");
    assert!(param(&loc, "code").is_none(), "{loc}");
    let description = param(&loc, "error_description").unwrap_or_default();
    assert!(
        description
            .bytes()
            .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)),
        "{description:?}"
    );
}

/// Redeems `flow` (c1, Basic) with `extra` parameters.
async fn redeem_with(app: &TestApp, flow: &Flow, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", flow.code.as_str()),
        ("redirect_uri", flow.redirect_uri.as_str()),
        ("code_verifier", flow.verifier.as_str()),
    ];
    form.extend_from_slice(extra);
    app.token_with(&form, auth_of(&flow.client_id)).await
}

/// Who sees `token` as active: rs1 (PHOTOS) or rs2 (OTHER), and the `aud`
/// in the JWT, which must agree.
async fn assert_audience(app: &TestApp, token: &str, audience: &str, what: &str) -> Value {
    let claims = jwt_claims(token);
    assert_eq!(claims["aud"], audience, "{what}: JWT aud");
    let (serves, other) = if audience == PHOTOS {
        ("rs1", "rs2")
    } else {
        ("rs2", "rs1")
    };
    app.assert_inactive(other, token, what).await;
    let v = app.assert_active(serves, token, what).await;
    assert_eq!(v["aud"], audience, "{what}: introspected aud");
    v
}

#[tokio::test]
async fn resource_at_authorize_selects_the_audience() {
    let app = TestApp::spawn().await;
    // No resource: the default audience.
    let body = app.tokens_for("c1", "a").await;
    assert_audience(&app, &access_token(&body), PHOTOS, "no resource").await;
    // PHOTOS named explicitly.
    let flow = app
        .flow_for(AuthRequest::new("c1").set("resource", PHOTOS))
        .await;
    let body = expect_token_response(redeem_with(&app, &flow, &[]).await).await;
    assert_audience(&app, &access_token(&body), PHOTOS, "resource=PHOTOS").await;

    // OTHER: the token is for OTHER, and so is its refresh token.
    let flow = app
        .flow_for(AuthRequest::new("c1").set("resource", OTHER))
        .await;
    let body = expect_token_response(redeem_with(&app, &flow, &[]).await).await;
    assert_eq!(body["scope"], "a");
    assert_audience(&app, &access_token(&body), OTHER, "resource=OTHER").await;
    let rt = refresh_token(&body);
    app.assert_inactive("rs1", &rt, "OTHER's RT asked by rs1")
        .await;
    let v = app
        .assert_active("rs2", &rt, "OTHER's RT asked by rs2")
        .await;
    assert_eq!(v["aud"], OTHER);

    // A refresh keeps the audience, with or without naming it again.
    let next = expect_token_response(app.refresh("c1", &rt).await).await;
    assert_audience(&app, &access_token(&next), OTHER, "refreshed").await;
    let next = expect_token_response(
        app.token_with(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh_token(&next)),
                ("resource", OTHER),
            ],
            auth_of("c1"),
        )
        .await,
    )
    .await;
    assert_audience(
        &app,
        &access_token(&next),
        OTHER,
        "refreshed, resource=OTHER",
    )
    .await;
}

#[tokio::test]
async fn unknown_resource_at_authorize_is_invalid_target() {
    let app = TestApp::spawn().await;
    for resource in [
        "https://unknown.example",
        "https://photos.example.evil.com",
        "https://photos.example/other-path",
        "https://photos.example#frag",
        "photos",
        "urn:example:photos",
    ] {
        let request = AuthRequest::new("c1").set("resource", resource);
        expect_redirect_error(&app, &request, "invalid_target").await;
    }
}

#[tokio::test]
async fn scope_not_offered_by_the_resource_is_invalid_scope() {
    let app = TestApp::spawn().await;
    for scope in ["b", "a b", "c"] {
        let request = AuthRequest::new("c1").set("resource", OTHER).scope(scope);
        expect_redirect_error(&app, &request, "invalid_scope").await;
    }
    // The same scopes are fine at PHOTOS.
    let flow = app
        .flow_for(
            AuthRequest::new("c1")
                .set("resource", PHOTOS)
                .scope("a b c"),
        )
        .await;
    let body = expect_token_response(redeem_with(&app, &flow, &[]).await).await;
    assert_eq!(body["scope"], "a b c");
}

#[tokio::test]
async fn two_resources_are_invalid_target() {
    let app = TestApp::spawn().await;
    for (first, second) in [(PHOTOS, OTHER), (OTHER, OTHER)] {
        let request = AuthRequest::new("c1")
            .set("resource", first)
            .add("resource", second);
        expect_redirect_error(&app, &request, "invalid_target").await;
    }
}

#[tokio::test]
async fn resource_at_token_must_match_the_grant() {
    let app = TestApp::spawn().await;
    // A code for OTHER redeemed for PHOTOS, or for an unknown resource.
    for asked in [PHOTOS, "https://unknown.example"] {
        let flow = app
            .flow_for(AuthRequest::new("c1").set("resource", OTHER))
            .await;
        expect_oauth_error(
            redeem_with(&app, &flow, &[("resource", asked)]).await,
            400,
            "invalid_target",
            &[&flow.code],
        )
        .await;
    }
    // A code for the default audience redeemed for OTHER.
    let flow = app.code_for("c1", "a").await;
    expect_oauth_error(
        redeem_with(&app, &flow, &[("resource", OTHER)]).await,
        400,
        "invalid_target",
        &[&flow.code],
    )
    .await;

    // The matching resource is fine.
    let flow = app
        .flow_for(AuthRequest::new("c1").set("resource", OTHER))
        .await;
    let body = expect_token_response(redeem_with(&app, &flow, &[("resource", OTHER)]).await).await;
    assert_audience(&app, &access_token(&body), OTHER, "matching resource").await;

    // At refresh: another resource is refused, and the refresh token is
    // left usable (nothing was rotated).
    let rt = refresh_token(&body);
    for asked in [PHOTOS, "https://unknown.example"] {
        expect_oauth_error(
            app.token_with(
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &rt),
                    ("resource", asked),
                ],
                auth_of("c1"),
            )
            .await,
            400,
            "invalid_target",
            &[&rt],
        )
        .await;
    }
    let next = expect_token_response(app.refresh("c1", &rt).await).await;
    assert_audience(&app, &access_token(&next), OTHER, "after refused refreshes").await;

    // Two resources at the token endpoint: refused.
    let r = Reply::read(
        app.token_with(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh_token(&next)),
                ("resource", OTHER),
                ("resource", OTHER),
            ],
            auth_of("c1"),
        )
        .await,
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let error = r.json()["error"].as_str().unwrap_or_default().to_owned();
    assert!(
        ["invalid_request", "invalid_target"].contains(&error.as_str()),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn client_credentials_with_a_resource() {
    let app = TestApp::spawn().await;
    // OTHER offers only `a`: without a scope, svc gets a ∩ its own a b.
    let body =
        expect_token_response(app.client_credentials("svc", &[("resource", OTHER)]).await).await;
    assert_eq!(body["scope"], "a", "{body}");
    let v = assert_audience(&app, &access_token(&body), OTHER, "svc for OTHER").await;
    assert_eq!(v["sub"], "svc");
    // Explicitly the scope OTHER offers.
    let body = expect_token_response(
        app.client_credentials("svc", &[("resource", OTHER), ("scope", "a")])
            .await,
    )
    .await;
    assert_audience(&app, &access_token(&body), OTHER, "svc for OTHER, scope a").await;
    // A scope OTHER does not offer.
    expect_oauth_error(
        app.client_credentials("svc", &[("resource", OTHER), ("scope", "b")])
            .await,
        400,
        "invalid_scope",
        &[],
    )
    .await;
    // PHOTOS explicitly.
    let body =
        expect_token_response(app.client_credentials("svc", &[("resource", PHOTOS)]).await).await;
    assert_eq!(body["scope"], "a b", "{body}");
    assert_audience(&app, &access_token(&body), PHOTOS, "svc for PHOTOS").await;
    // Unknown resources.
    for resource in ["https://unknown.example", "not a uri"] {
        for extra in [vec![], vec![("scope", "a")]] {
            let mut params = vec![("resource", resource)];
            params.extend(extra);
            expect_oauth_error(
                app.client_credentials("svc", &params).await,
                400,
                "invalid_target",
                &[],
            )
            .await;
        }
    }
}
