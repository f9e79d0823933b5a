//! A person's browser at the authorization server: cookies kept, redirects
//! shown rather than followed, the AS's HTML forms (login, consent) read
//! and submitted the way a person's browser would. The one form-filling
//! browser of the workspace's tests (the AS integration suite and the
//! client-side suites).

use reqwest::redirect::Policy;
use scraper::{Html, Selector};

use crate::servers::{ALICE, ALICE_PASSWORD, Servers};
use crate::urls::location;

pub struct Browser {
    pub http: reqwest::Client,
    /// The authorization server's base URL: relative URLs resolve against it.
    pub base: String,
    /// Where [`Browser::authorize_as_alice`] expects to be sent back: the
    /// client's registered redirect URI.
    client_redirect: Option<String>,
}

impl Browser {
    /// A browser at the authorization server `base`.
    pub fn at(base: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(Policy::none())
                .build()
                .expect("client"),
            base: base.to_owned(),
            client_redirect: None,
        }
    }

    /// A browser at `servers`' AS, sent back to its registered client.
    pub fn new(servers: &Servers) -> Self {
        Self {
            client_redirect: Some(servers.redirect_uri.clone()),
            ..Self::at(&servers.issuer)
        }
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with('/') {
            format!("{}{}", self.base, url)
        } else {
            url.to_owned()
        }
    }

    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.http.get(self.absolute(url)).send().await.expect("GET")
    }

    /// Submits a form; `button` adds the pressed button's name and value.
    pub async fn submit(&self, form: &Form, button: Option<(&str, &str)>) -> reqwest::Response {
        let mut fields = form.fields.clone();
        if let Some((k, v)) = button {
            fields.push((k.into(), v.into()));
        }
        self.http
            .post(self.absolute(&form.action))
            .form(&fields)
            .send()
            .await
            .expect("POST")
    }

    /// GETs a page and parses its form.
    pub async fn form_at(&self, url: &str) -> Form {
        let r = self.get(url).await;
        assert_eq!(r.status(), 200, "form page {url}");
        Form::parse(&r.text().await.expect("body"))
    }

    /// Logs in on the login page at `url`; returns the response to the POST.
    pub async fn login(&self, url: &str, username: &str, password: &str) -> reqwest::Response {
        let mut form = self.form_at(url).await;
        form.set("username", username).set("password", password);
        self.submit(&form, None).await
    }

    /// From an authorization URL (absolute, or relative to the AS) to the
    /// redirect out of the AS: logs in as `username` if asked to, and
    /// presses `decision` ("approve" or "deny") at consent if it is shown,
    /// leaving only `granted` checked (each of which must be offered; all
    /// the requested scopes when `None`). Returns the final `Location`.
    pub async fn through_login_and_consent(
        &self,
        url: &str,
        username: &str,
        password: &str,
        decision: &str,
        granted: Option<&[&str]>,
    ) -> String {
        let mut r = self.get(url).await;
        assert!(
            r.status().is_redirection(),
            "authorize: {} {}",
            r.status(),
            r.text().await.unwrap_or_default()
        );
        let mut loc = location(&r);
        if loc.starts_with("/login") {
            r = self.login(&loc, username, password).await;
            assert_eq!(r.status(), 303, "login");
            loc = location(&r);
        }
        if loc.starts_with("/consent") {
            let mut form = self.form_at(&loc).await;
            if let Some(granted) = granted {
                let offered = form.all("scope");
                for g in granted {
                    assert!(
                        offered.iter().any(|o| o == g),
                        "{g} is not offered at consent: {offered:?}"
                    );
                }
                form.fields
                    .retain(|(k, v)| k != "scope" || granted.contains(&v.as_str()));
            }
            r = self.submit(&form, Some(("decision", decision))).await;
            assert_eq!(r.status(), 303, "consent");
            loc = location(&r);
        }
        loc
    }

    /// From the authorization URL to the redirect back to the client, as
    /// alice, pressing `decision` ("approve" or "deny") at consent. Returns
    /// the callback's query string.
    pub async fn authorize_as_alice(&self, url: &url::Url, decision: &str) -> String {
        self.authorize_as_alice_granting(url, decision, None).await
    }

    /// [`Browser::authorize_as_alice`], leaving only `granted` checked at
    /// consent (all the requested scopes when `None`).
    pub async fn authorize_as_alice_granting(
        &self,
        url: &url::Url,
        decision: &str,
        granted: Option<&[&str]>,
    ) -> String {
        let redirect = self
            .client_redirect
            .as_deref()
            .expect("a browser made by Browser::new(&servers)");
        let loc = self
            .through_login_and_consent(url.as_str(), ALICE, ALICE_PASSWORD, decision, granted)
            .await;
        let callback = url::Url::parse(&loc).unwrap();
        assert!(loc.starts_with(redirect), "back to the client: {loc}");
        callback.query().unwrap_or_default().to_owned()
    }
}

/// An HTML form as a browser would submit it.
#[derive(Debug, Clone)]
pub struct Form {
    pub action: String,
    pub fields: Vec<(String, String)>,
}

impl Form {
    /// The first form of the page: hidden and text inputs with their values,
    /// checked checkboxes; buttons are chosen at submit time.
    pub fn parse(html: &str) -> Self {
        let doc = Html::parse_document(html);
        let form_sel = Selector::parse("form").expect("selector");
        let input_sel = Selector::parse("input").expect("selector");
        let form = doc
            .select(&form_sel)
            .next()
            .unwrap_or_else(|| panic!("no form in page: {html}"));
        let action = form.value().attr("action").unwrap_or("").to_owned();
        let mut fields = Vec::new();
        for input in form.select(&input_sel) {
            let el = input.value();
            let Some(name) = el.attr("name") else {
                continue;
            };
            let kind = el.attr("type").unwrap_or("text");
            if kind == "checkbox" && el.attr("checked").is_none() {
                continue;
            }
            fields.push((name.to_owned(), el.attr("value").unwrap_or("").to_owned()));
        }
        Self { action, fields }
    }

    pub fn set(&mut self, name: &str, value: &str) -> &mut Self {
        self.fields.retain(|(k, _)| k != name);
        self.fields.push((name.into(), value.into()));
        self
    }

    pub fn remove(&mut self, name: &str) -> &mut Self {
        self.fields.retain(|(k, _)| k != name);
        self
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The values of every checked box named `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.fields
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}
