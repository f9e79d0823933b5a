//! The front channel as a test drives it: an authorization request under
//! construction ([`AuthRequest`]), the code it yields ([`Flow`]), and the
//! whole round trip as alice up to the tokens.

use tessera_core::pkce::CodeChallenge;
use tessera_runtime::SystemRandomness;

use super::app::TestApp;
use super::assertions::expect_token_response;
use super::browser::{BrowserExt as _, query_params};
use super::fixtures::{ALICE, ALICE_PASSWORD, default_redirect, secret_of};
use super::requests::{ClientAuth, auth_of};

/// A fresh PKCE verifier (43+ characters of the unreserved set).
pub fn new_verifier() -> String {
    tessera_core::secrets::new_opaque_token(&SystemRandomness)
        .expect("rng")
        .expose()
        .to_owned()
}

/// An authorization request under construction.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    pub client_id: String,
    pub params: Vec<(String, String)>,
    pub verifier: String,
    pub redirect_uri: String,
}

impl AuthRequest {
    /// `response_type=code`, the client's first redirect URI (explicit),
    /// `scope=a`, `state=xyz`, and a fresh S256 challenge.
    pub fn new(client_id: &str) -> Self {
        let verifier = new_verifier();
        let redirect_uri = default_redirect(client_id).to_owned();
        let params = vec![
            ("response_type".into(), "code".into()),
            ("client_id".into(), client_id.into()),
            ("redirect_uri".into(), redirect_uri.clone()),
            ("scope".into(), "a".into()),
            ("state".into(), "xyz".into()),
            (
                "code_challenge".into(),
                CodeChallenge::s256_of(&verifier).as_str().to_owned(),
            ),
            ("code_challenge_method".into(), "S256".into()),
        ];
        Self {
            client_id: client_id.into(),
            params,
            verifier,
            redirect_uri,
        }
    }

    /// Sets (replacing) a parameter.
    pub fn set(mut self, name: &str, value: &str) -> Self {
        self.params.retain(|(k, _)| k != name);
        self.params.push((name.into(), value.into()));
        if name == "redirect_uri" {
            self.redirect_uri = value.into();
        }
        self
    }

    /// Adds a parameter, even if one of that name exists.
    pub fn add(mut self, name: &str, value: &str) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    pub fn remove(mut self, name: &str) -> Self {
        self.params.retain(|(k, _)| k != name);
        self
    }

    pub fn scope(self, scope: &str) -> Self {
        self.set("scope", scope)
    }

    pub fn query(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.params {
            s.append_pair(k, v);
        }
        s.finish()
    }

    pub fn into_flow(self, location: &str) -> Flow {
        let params = query_params(location);
        let code = params
            .iter()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no code in {location}"));
        Flow {
            client_id: self.client_id,
            code,
            verifier: self.verifier,
            redirect_uri: self.redirect_uri,
        }
    }
}

/// A code and what is needed to redeem it.
#[derive(Debug, Clone)]
pub struct Flow {
    pub client_id: String,
    pub code: String,
    pub verifier: String,
    pub redirect_uri: String,
}

impl Flow {
    pub fn credentials(&self) -> (&str, Option<&'static str>) {
        (self.client_id.as_str(), secret_of(&self.client_id))
    }
}

/// The code grant of `flow`, with `verifier` as `code_verifier` (omitted
/// when `None`).
pub fn code_form<'a>(flow: &'a Flow, verifier: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", flow.code.as_str()),
        ("redirect_uri", flow.redirect_uri.as_str()),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    form
}

impl TestApp {
    /// Redeems a code with the client's fixture authentication (Basic for a
    /// confidential client, `client_id` for a public one).
    pub async fn redeem(&self, flow: &Flow) -> reqwest::Response {
        let (id, secret) = flow.credentials();
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", flow.code.as_str()),
            ("redirect_uri", flow.redirect_uri.as_str()),
            ("code_verifier", flow.verifier.as_str()),
        ];
        match secret {
            Some(s) => self.token(&form, Some((id, s))).await,
            None => {
                form.push(("client_id", id));
                self.token(&form, None).await
            }
        }
    }

    /// Redeems `flow`'s code (with its verifier) authenticating as `auth`.
    pub async fn redeem_as(&self, flow: &Flow, auth: ClientAuth<'_>) -> reqwest::Response {
        self.token_with(&code_form(flow, Some(&flow.verifier)), auth)
            .await
    }

    /// Redeems with the flow's own client authentication and `verifier` as
    /// `code_verifier` (omitted when `None`).
    pub async fn redeem_with_verifier(
        &self,
        flow: &Flow,
        verifier: Option<&str>,
    ) -> reqwest::Response {
        self.token_with(&code_form(flow, verifier), auth_of(&flow.client_id))
            .await
    }

    /// The front channel as alice (approving whatever is asked) for any
    /// request; returns the code.
    pub async fn flow_for(&self, request: AuthRequest) -> Flow {
        let back = self
            .browser()
            .authorize_through_consent(&request, ALICE, ALICE_PASSWORD, None)
            .await;
        request.into_flow(&back)
    }

    /// Runs the whole front channel for `client_id` as alice and returns the
    /// code.
    pub async fn code_for(&self, client_id: &str, scope: &str) -> Flow {
        self.flow_for(AuthRequest::new(client_id).scope(scope))
            .await
    }

    /// Code, then tokens ([`expect_token_response`]); returns the token
    /// response JSON.
    pub async fn tokens_for(&self, client_id: &str, scope: &str) -> serde_json::Value {
        let flow = self.code_for(client_id, scope).await;
        expect_token_response(self.redeem(&flow).await).await
    }
}
