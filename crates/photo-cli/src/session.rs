//! Getting tokens that work: the browser sign-in (RFC 8252 loopback
//! redirect), the stored sign-in refreshed, and the fallback from a refused
//! refresh to a new sign-in.

use tessera_client::native::{LoopbackListener, open_browser};
use tessera_client::{Error as ClientError, OAuthClient, Tokens};

use crate::Settings;
use crate::error::Error;
use crate::token_store::{Saved, TokenStore};

/// The redirect URI the CLI is registered with; the port varies per sign-in
/// (RFC 8252 §7.3), and only the authorization request carries it.
const REGISTERED_REDIRECT: &str = "http://127.0.0.1/callback";

/// A signed-in CLI: the client and the tokens it holds.
pub(crate) struct Session {
    pub client: OAuthClient,
    pub tokens: Tokens,
    pub store: TokenStore,
    settings: Settings,
}

/// Signs in through the browser: listens on a loopback port, prints (and
/// opens) the authorization URL, waits for the one callback, checks it and
/// trades the code (no client secret), then stores the result.
pub(crate) async fn sign_in(settings: &Settings, store: TokenStore) -> Result<Session, Error> {
    let listener = LoopbackListener::bind().await?;
    let redirect_uri = listener.redirect_uri();
    let client =
        OAuthClient::discover(&settings.issuer, &settings.client_id, None, &redirect_uri).await?;
    let scopes: Vec<&str> = settings.scopes.iter().map(String::as_str).collect();
    let (url, pending) = client.begin(&scopes);
    eprintln!(
        "Sign in at {} in your browser:\n\n    {url}\n",
        settings.issuer
    );
    if settings.open_browser {
        match open_browser(url.as_str()) {
            Ok(()) => eprintln!("(opened in your browser)"),
            Err(e) => eprintln!("({e}: open the address above yourself)"),
        }
    }
    eprintln!(
        "Waiting for the browser to come back to {redirect_uri} (Ctrl-C to stop, {} s at most)…",
        settings.sign_in_timeout.as_secs()
    );
    let query = tokio::select! {
        query = listener.wait(&pending, settings.sign_in_timeout) => query?,
        _ = tokio::signal::ctrl_c() => return Err(Error::Input("sign-in cancelled".into())),
    };
    let tokens = client.complete(pending, &query).await?;
    store.save(&Saved::new(settings, &tokens))?;
    Ok(Session {
        client,
        tokens,
        store,
        settings: settings.clone(),
    })
}

impl Session {
    /// The stored sign-in, with an access token that has not expired as far
    /// as the client knows (refreshed when it has none); when the refresh is
    /// refused, says why and signs in again. Not signed in at all: signs in.
    pub async fn resume(settings: &Settings) -> Result<Session, Error> {
        let store = TokenStore::open(settings)?;
        let Some(saved) = store.load()? else {
            eprintln!("Not signed in yet.");
            return sign_in(settings, store).await;
        };
        if saved.issuer != settings.issuer || saved.client_id != settings.client_id {
            return Err(Error::Corrupt(
                "it belongs to another issuer or client".into(),
            ));
        }
        let client = OAuthClient::discover(
            &settings.issuer,
            &settings.client_id,
            None,
            REGISTERED_REDIRECT,
        )
        .await?
        .with_clock(settings.clock.clone());
        let mut session = Session {
            client,
            tokens: saved.tokens,
            store,
            settings: settings.clone(),
        };
        let expired = session.tokens.access_token.expose().is_empty()
            || session
                .tokens
                .expires_at
                .is_some_and(|at| at <= (settings.clock)());
        if expired {
            session.refresh_or_sign_in().await?;
        }
        Ok(session)
    }

    /// Refreshes; a refused refresh token means OAuth again.
    pub async fn refresh_or_sign_in(&mut self) -> Result<(), Error> {
        match self.client.refresh(&self.tokens).await {
            Ok(tokens) => {
                self.tokens = tokens;
                self.save()
            }
            Err(ClientError::ReauthorizationRequired) => self.sign_in_again().await,
            Err(e) => Err(e.into()),
        }
    }

    /// The fallback state: say why, and do OAuth again.
    pub async fn sign_in_again(&mut self) -> Result<(), Error> {
        eprintln!(
            "The authorization server refused the stored refresh token (revoked, expired, \
             or the password changed): signing in again."
        );
        let store = TokenStore::open(&self.settings)?;
        let fresh = sign_in(&self.settings, store).await?;
        *self = fresh;
        Ok(())
    }

    pub fn save(&self) -> Result<(), Error> {
        self.store.save(&Saved::new(&self.settings, &self.tokens))
    }

    /// The photo API's base URL, without a trailing slash.
    pub fn api(&self) -> String {
        self.settings.api.trim_end_matches('/').to_owned()
    }

    pub fn allows(&self, scope: &str) -> bool {
        self.tokens.scopes.iter().any(|s| s == scope)
    }
}
