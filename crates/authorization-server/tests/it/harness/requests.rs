//! Back-channel requests a client or resource server makes: how it
//! authenticates, and the token, revocation and introspection calls.

use base64::Engine as _;

use super::app::TestApp;
use super::fixtures::secret_of;

/// How a back-channel request authenticates the client.
#[derive(Debug, Clone, Copy)]
pub enum ClientAuth<'a> {
    /// `client_secret_basic`, form-encoded as RFC 6749 §2.3.1 says.
    Basic(&'a str, &'a str),
    /// `client_secret_post`.
    Post(&'a str, &'a str),
    /// `client_id` only (`none`, public clients).
    Public(&'a str),
    /// No authentication at all.
    Nothing,
}

/// The fixture's authentication of `client_id`: Basic with its secret for a
/// confidential client, `client_id` only for the others.
pub fn auth_of(client_id: &str) -> ClientAuth<'_> {
    match secret_of(client_id) {
        Some(secret) => ClientAuth::Basic(client_id, secret),
        None => ClientAuth::Public(client_id),
    }
}

/// An `Authorization: Basic` value, each part form-encoded first as RFC 6749
/// §2.3.1 says.
pub fn basic_header(id: &str, secret: &str) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
    )
}

impl TestApp {
    /// `POST /token` with a form body and optional Basic credentials
    /// (form-encoded as RFC 6749 §2.3.1 says).
    pub async fn token(
        &self,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> reqwest::Response {
        let mut req = self.http().post(self.url("/token")).form(form);
        if let Some((id, secret)) = basic {
            req = req.header("authorization", basic_header(id, secret));
        }
        req.send().await.expect("token request")
    }

    /// `POST {issuer path}{path}` with a form body and `auth`.
    pub async fn post_form(
        &self,
        path: &str,
        form: &[(&str, &str)],
        auth: ClientAuth<'_>,
    ) -> reqwest::Response {
        self.post_form_to(
            &self.url(&format!("{}{path}", self.base_path())),
            form,
            auth,
        )
        .await
    }

    /// `POST url` (absolute) with a form body and `auth`.
    pub async fn post_form_to(
        &self,
        url: &str,
        form: &[(&str, &str)],
        auth: ClientAuth<'_>,
    ) -> reqwest::Response {
        let mut form = form.to_vec();
        let mut req = self.http().post(url);
        match auth {
            ClientAuth::Basic(id, secret) => {
                req = req.header("authorization", basic_header(id, secret));
            }
            ClientAuth::Post(id, secret) => {
                form.push(("client_id", id));
                form.push(("client_secret", secret));
            }
            ClientAuth::Public(id) => form.push(("client_id", id)),
            ClientAuth::Nothing => {}
        }
        req.form(&form).send().await.expect("back-channel request")
    }

    /// `POST /token` with `auth`.
    pub async fn token_with(
        &self,
        form: &[(&str, &str)],
        auth: ClientAuth<'_>,
    ) -> reqwest::Response {
        self.post_form("/token", form, auth).await
    }

    /// The refresh grant for `client_id` (its fixture authentication).
    pub async fn refresh(&self, client_id: &str, refresh_token: &str) -> reqwest::Response {
        self.refresh_as(refresh_token, None, auth_of(client_id))
            .await
    }

    /// The refresh grant, asking for `scope` if given, authenticating as
    /// `auth`.
    pub async fn refresh_as(
        &self,
        refresh_token: &str,
        scope: Option<&str>,
        auth: ClientAuth<'_>,
    ) -> reqwest::Response {
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        if let Some(s) = scope {
            form.push(("scope", s));
        }
        self.token_with(&form, auth).await
    }

    /// The client credentials grant for `client_id` with `extra` parameters.
    pub async fn client_credentials(
        &self,
        client_id: &str,
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend_from_slice(extra);
        self.token_with(&form, auth_of(client_id)).await
    }

    /// `POST /revoke` for `token`, with `token_type_hint` if given.
    pub async fn revoke(
        &self,
        token: &str,
        hint: Option<&str>,
        auth: ClientAuth<'_>,
    ) -> reqwest::Response {
        let mut form = vec![("token", token)];
        if let Some(h) = hint {
            form.push(("token_type_hint", h));
        }
        self.post_form("/revoke", &form, auth).await
    }

    /// `POST /introspect` for `token`.
    pub async fn introspect(&self, token: &str, auth: ClientAuth<'_>) -> reqwest::Response {
        self.post_form("/introspect", &[("token", token)], auth)
            .await
    }

    /// The published JWK set, as `JwkSet` or raw JSON.
    pub async fn jwks<T: serde::de::DeserializeOwned>(&self) -> T {
        self.http()
            .get(self.url("/jwks.json"))
            .send()
            .await
            .expect("jwks request")
            .json()
            .await
            .expect("jwks json")
    }
}
