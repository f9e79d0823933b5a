//! A person's browser at the authorization server: cookies kept, redirects
//! shown rather than followed, HTML forms read and submitted.

use reqwest::redirect::Policy;
use scraper::{Html, Selector};

use super::app::TestApp;
use super::flow::AuthRequest;

impl TestApp {
    /// A browser: keeps cookies, does not follow redirects.
    pub fn browser(&self) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(Policy::none())
                .build()
                .expect("client"),
            base: self.base.clone(),
        }
    }
}

/// The query parameters of a URL (or of a `Location` header).
pub fn query_params(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').map(|(_, q)| q).unwrap_or("");
    let query = query.split('#').next().unwrap_or("");
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

pub fn param(url: &str, name: &str) -> Option<String> {
    query_params(url)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

pub fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .map(|v| v.to_str().expect("ascii location").to_owned())
        .unwrap_or_default()
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

pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
}

impl Browser {
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

    pub async fn authorize(&self, request: &AuthRequest) -> reqwest::Response {
        self.get(&format!("/authorize?{}", request.query())).await
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

    /// From `/authorize` to the redirect back to the client, logging in and
    /// approving consent as needed. `granted` unchecks every other scope.
    /// Returns the final `Location`.
    pub async fn authorize_through_consent(
        &self,
        _app: &TestApp,
        request: &AuthRequest,
        username: &str,
        password: &str,
        granted: Option<&[&str]>,
    ) -> String {
        let mut r = self.authorize(request).await;
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
                form.remove("scope");
                for s in granted {
                    form.fields.push(("scope".into(), (*s).into()));
                }
            }
            r = self.submit(&form, Some(("decision", "approve"))).await;
            assert_eq!(r.status(), 303, "consent");
            loc = location(&r);
        }
        loc
    }
}
