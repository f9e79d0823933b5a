//! The AS suite's use of the workspace's one form-filling browser
//! (`tessera_test_support::Browser`): a browser per test server, and
//! sending it through an [`AuthRequest`].

pub use tessera_test_support::{Browser, Form, location, param, query_params};

use super::app::TestApp;
use super::flow::AuthRequest;

impl TestApp {
    /// A browser at this server: keeps cookies, does not follow redirects.
    pub fn browser(&self) -> Browser {
        Browser::at(&self.base)
    }

    /// A browser whose connections come from `source` (any 127.x.y.z
    /// address reaches the server on loopback), for per-address rules.
    pub fn browser_from(&self, source: std::net::IpAddr) -> Browser {
        let mut browser = Browser::at(&self.base);
        browser.http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .local_address(source)
            .build()
            .expect("client");
        browser
    }
}

/// What the AS tests do with a browser and an [`AuthRequest`].
// Only this test binary implements and calls it, so `Send` bounds on the
// futures are not needed.
#[allow(async_fn_in_trait)]
pub trait BrowserExt {
    /// `GET /authorize` with the request's parameters: the raw response.
    async fn authorize(&self, request: &AuthRequest) -> reqwest::Response;

    /// From `/authorize` to the redirect back to the client, logging in and
    /// approving consent as needed. `granted` unchecks every other scope.
    /// Returns the final `Location`.
    async fn authorize_through_consent(
        &self,
        request: &AuthRequest,
        username: &str,
        password: &str,
        granted: Option<&[&str]>,
    ) -> String;
}

impl BrowserExt for Browser {
    async fn authorize(&self, request: &AuthRequest) -> reqwest::Response {
        self.get(&format!("/authorize?{}", request.query())).await
    }

    async fn authorize_through_consent(
        &self,
        request: &AuthRequest,
        username: &str,
        password: &str,
        granted: Option<&[&str]>,
    ) -> String {
        let url = format!("/authorize?{}", request.query());
        self.through_login_and_consent(&url, username, password, "approve", granted)
            .await
    }
}
