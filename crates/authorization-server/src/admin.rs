//! Registering clients and users: shared by configuration seeding at start
//! and by the `tessera client` / `tessera user` commands.

use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Arc;

use serde::Deserialize;
use tessera_core::UnixTime;
use tessera_core::client::{self, Client, ClientRegistrationError, GrantType, UnknownGrantType};
use tessera_core::jwt::SigningAlgorithm;
use tessera_core::redirect_uri::Mode;
use tessera_core::resource::{AccessTokenFormat, Resource};
use tessera_core::scope::{InvalidScopeSyntax, Scope};
use tessera_core::secrets::{
    self, ClientSecretHasher, Randomness, RandomnessUnavailable, SecretString,
};
use tessera_core::user_claims::UserClaims;
use tessera_store::{Store, StoreError, User};

use crate::app::events::{self, About, Kind};
use crate::passwords::{self, PasswordError};
use crate::state::{InitError, client_secret_hasher};

/// A client as an operator describes it (config file or CLI).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSpec {
    pub client_id: String,
    /// Omit for a public client (PKCE only).
    #[serde(default)]
    pub client_secret: Option<SecretString>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default = "default_grant_types")]
    pub grant_types: Vec<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// The legacy opt-out of PKCE for confidential clients.
    #[serde(default = "default_true")]
    pub require_pkce: bool,
    /// May call the introspection endpoint (a resource server's client).
    #[serde(default)]
    pub introspect: bool,
    /// The registered resource this client serves (as a resource server).
    #[serde(default)]
    pub resource: Option<String>,
    /// `"jwt"` or `"opaque"`; the server's default when omitted.
    #[serde(default)]
    pub access_token_format: Option<String>,
    /// `RS256` (the default), `ES256` or `EdDSA`: how this client's ID
    /// tokens are signed. Never `none`.
    #[serde(default)]
    pub id_token_signed_response_alg: Option<String>,
    /// Where RP-initiated logout may return the browser (exact match).
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
}

/// A protected resource (RFC 8707) as an operator describes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceSpec {
    /// The resource's URI: the `aud` of tokens issued for it.
    pub identifier: String,
    #[serde(default)]
    pub name: Option<String>,
    /// The scopes that mean something at this resource.
    #[serde(default)]
    pub scopes: Vec<String>,
}

fn default_grant_types() -> Vec<String> {
    vec!["authorization_code".into(), "refresh_token".into()]
}

fn default_true() -> bool {
    true
}

/// A user as an operator describes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    pub username: String,
    pub password: SecretString,
    /// Standard claims released at UserInfo (`name`, `email`, …).
    #[serde(default)]
    pub claims: UserClaims,
}

impl UserSpec {
    /// The checks [`Admin::ensure_user`] makes of a new user, without the
    /// store: the binary runs them over every configured user before it
    /// seeds anything, so a bad entry stops it with nothing half-written.
    pub fn validate(&self) -> Result<(), AdminError> {
        validate_username(&self.username)?;
        validate_password(&self.password)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("client `{client_id}`: {source}")]
    Client {
        client_id: String,
        source: ClientRegistrationError,
    },
    #[error("client `{client_id}`: {source}")]
    GrantType {
        client_id: String,
        source: UnknownGrantType,
    },
    #[error("`{0}`: a scope contains a character that is not allowed")]
    Scope(String),
    #[error("client `{0}`: access_token_format must be \"jwt\" or \"opaque\"")]
    TokenFormat(String),
    #[error("client `{client_id}`: the resource `{resource}` is not registered")]
    UnknownResource { client_id: String, resource: String },
    #[error("client `{0}`: id_token_signed_response_alg must be RS256, ES256 or EdDSA")]
    IdTokenAlgorithm(String),
    #[error("client `{client_id}`: post-logout redirect URI `{uri}`: {reason}")]
    LogoutUri {
        client_id: String,
        uri: String,
        reason: tessera_core::redirect_uri::RegistrationError,
    },
    #[error("no user `{0}`")]
    NoSuchUser(String),
    #[error("client `{0}`: only a confidential client may introspect")]
    PublicIntrospection(String),
    #[error("resource `{identifier}`: {source}")]
    Resource {
        identifier: String,
        source: tessera_core::resource::ResourceRegistrationError,
    },
    #[error("usernames are 1 to 64 characters, without spaces or control characters")]
    Username,
    #[error("passwords must be at least 8 characters")]
    WeakPassword,
    #[error("user `{0}` already exists")]
    UserExists(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Random(#[from] RandomnessUnavailable),
    #[error(transparent)]
    Init(#[from] InitError),
}

impl From<InvalidScopeSyntax> for AdminError {
    fn from(_: InvalidScopeSyntax) -> Self {
        AdminError::Scope(String::new())
    }
}

/// Administrative operations over a store.
pub struct Admin {
    store: Arc<dyn Store>,
    secrets: ClientSecretHasher,
    rng: Arc<dyn Randomness>,
    mode: Mode,
    /// The audit trail's `source` for the changes made here.
    source: &'static str,
}

impl Admin {
    pub async fn new(
        store: Arc<dyn Store>,
        rng: Arc<dyn Randomness>,
        mode: Mode,
    ) -> Result<Self, AdminError> {
        let secrets = client_secret_hasher(store.as_ref(), rng.as_ref()).await?;
        Ok(Self {
            store,
            secrets,
            rng,
            mode,
            source: events::COMMAND_LINE,
        })
    }

    /// The same operations, recorded in the audit trail as coming from the
    /// configuration file (seeding at start) rather than the command line.
    pub fn from_configuration(mut self) -> Self {
        self.source = "configuration file";
        self
    }

    /// Records a management change in the audit trail.
    async fn audit(&self, now: UnixTime, kind: Kind, about: About<'_>, detail: &str) {
        events::write(
            self.store.as_ref(),
            now,
            kind,
            about,
            Some(self.source.to_owned()),
            detail,
        )
        .await;
    }

    /// Registers (or updates) a client. With `generate_secret` and no secret
    /// in the spec, a 256-bit secret is generated and returned: it is shown
    /// once and only its HMAC is stored.
    pub async fn register_client(
        &self,
        spec: &ClientSpec,
        generate_secret: bool,
        now: UnixTime,
    ) -> Result<Option<SecretString>, AdminError> {
        let grant_types = spec
            .grant_types
            .iter()
            .map(|g| GrantType::from_str(g))
            .collect::<Result<BTreeSet<_>, _>>()
            .map_err(|source| AdminError::GrantType {
                client_id: spec.client_id.clone(),
                source,
            })?;
        let scopes = Scope::from_tokens(spec.scopes.iter().cloned())
            .map_err(|_| AdminError::Scope(spec.client_id.clone()))?;
        let generated = match (&spec.client_secret, generate_secret) {
            (None, true) => Some(secrets::new_opaque_token(self.rng.as_ref())?),
            _ => None,
        };
        let secret = spec.client_secret.as_ref().or(generated.as_ref());
        client::validate_registration(
            &spec.client_id,
            secret.map(SecretString::expose),
            &spec.redirect_uris,
            &grant_types,
            spec.require_pkce,
            self.mode,
        )
        .map_err(|source| AdminError::Client {
            client_id: spec.client_id.clone(),
            source,
        })?;
        let access_token_format = spec
            .access_token_format
            .as_deref()
            .map(AccessTokenFormat::from_str)
            .transpose()
            .map_err(|_| AdminError::TokenFormat(spec.client_id.clone()))?;
        if let Some(resource) = &spec.resource
            && self.store.resource(resource).await?.is_none()
        {
            return Err(AdminError::UnknownResource {
                client_id: spec.client_id.clone(),
                resource: resource.clone(),
            });
        }
        let id_token_signed_response_alg = spec
            .id_token_signed_response_alg
            .as_deref()
            .map(SigningAlgorithm::parse)
            .transpose()
            .map_err(|_| AdminError::IdTokenAlgorithm(spec.client_id.clone()))?;
        for uri in &spec.post_logout_redirect_uris {
            tessera_core::redirect_uri::validate_registration(uri, self.mode).map_err(
                |reason| AdminError::LogoutUri {
                    client_id: spec.client_id.clone(),
                    uri: uri.clone(),
                    reason,
                },
            )?;
        }
        if spec.introspect && secret.is_none() {
            return Err(AdminError::PublicIntrospection(spec.client_id.clone()));
        }
        let client = Client {
            client_id: spec.client_id.clone(),
            name: spec.name.clone().unwrap_or_else(|| spec.client_id.clone()),
            secret_hash: secret.map(|s| self.secrets.hash(s.expose())),
            redirect_uris: spec.redirect_uris.clone(),
            scopes,
            grant_types,
            require_pkce: spec.require_pkce,
            introspect: spec.introspect,
            resource: spec.resource.clone(),
            access_token_format,
            id_token_signed_response_alg,
            post_logout_redirect_uris: spec.post_logout_redirect_uris.clone(),
        };
        self.store.upsert_client(&client, now).await?;
        self.audit(
            now,
            Kind::ClientRegistered,
            About {
                client_id: Some(&client.client_id),
                ..About::default()
            },
            &format!(
                "client registered or updated ({}, scope {})",
                if client.is_public() {
                    "public"
                } else {
                    "confidential"
                },
                client.scopes
            ),
        )
        .await;
        Ok(generated)
    }

    /// Registers (or updates) a protected resource.
    pub async fn register_resource(
        &self,
        spec: &ResourceSpec,
        now: UnixTime,
    ) -> Result<(), AdminError> {
        tessera_core::resource::validate_identifier(&spec.identifier, self.mode).map_err(
            |source| AdminError::Resource {
                identifier: spec.identifier.clone(),
                source,
            },
        )?;
        let scopes = Scope::from_tokens(spec.scopes.iter().cloned())
            .map_err(|_| AdminError::Scope(spec.identifier.clone()))?;
        let resource = Resource {
            identifier: spec.identifier.clone(),
            name: spec.name.clone().unwrap_or_else(|| spec.identifier.clone()),
            scopes,
        };
        self.store.upsert_resource(&resource, now).await?;
        self.audit(
            now,
            Kind::ResourceRegistered,
            About::default(),
            &format!("resource {} registered or updated", resource.identifier),
        )
        .await;
        Ok(())
    }

    pub async fn resources(&self) -> Result<Vec<Resource>, AdminError> {
        Ok(self.store.resources().await?)
    }

    pub async fn remove_resource(
        &self,
        identifier: &str,
        now: UnixTime,
    ) -> Result<bool, AdminError> {
        let removed = self.store.delete_resource(identifier).await?;
        if removed {
            self.audit(
                now,
                Kind::ResourceRemoved,
                About::default(),
                &format!("resource {identifier} removed"),
            )
            .await;
        }
        Ok(removed)
    }

    pub async fn clients(&self) -> Result<Vec<Client>, AdminError> {
        Ok(self.store.clients().await?)
    }

    /// Removes the client; its grants and tokens end at `now`.
    pub async fn remove_client(&self, client_id: &str, now: UnixTime) -> Result<bool, AdminError> {
        let removed = self.store.delete_client(client_id, now).await?;
        if removed {
            self.audit(
                now,
                Kind::ClientRemoved,
                About {
                    client_id: Some(client_id),
                    ..About::default()
                },
                "client removed; its grants and tokens are revoked",
            )
            .await;
        }
        Ok(removed)
    }

    /// Creates a user; fails if the username is taken.
    pub async fn add_user(
        &self,
        username: &str,
        password: &SecretString,
        now: UnixTime,
    ) -> Result<User, AdminError> {
        self.add_user_with_claims(username, password, UserClaims::default(), now)
            .await
    }

    /// Creates a user with standard claims; fails if the username is taken.
    pub async fn add_user_with_claims(
        &self,
        username: &str,
        password: &SecretString,
        claims: UserClaims,
        now: UnixTime,
    ) -> Result<User, AdminError> {
        validate_username(username)?;
        validate_password(password)?;
        let user = User {
            user_id: secrets::new_id(self.rng.as_ref())?,
            username: username.to_owned(),
            password_hash: passwords::hash(password.expose().to_owned()).await?,
            created_at: now,
            claims,
        };
        match self.store.create_user(&user).await {
            Ok(()) => {
                self.audit(
                    now,
                    Kind::UserCreated,
                    About {
                        user_id: Some(&user.user_id),
                        ..About::default()
                    },
                    &format!("user {} created", user.username),
                )
                .await;
                Ok(user)
            }
            Err(StoreError::Conflict(_)) => Err(AdminError::UserExists(username.to_owned())),
            Err(e) => Err(e.into()),
        }
    }

    /// Seeds a user from configuration: creates it, or sets the configured
    /// password if it changed. Running it twice changes nothing.
    pub async fn ensure_user(&self, spec: &UserSpec, now: UnixTime) -> Result<(), AdminError> {
        match self.store.user_by_username(&spec.username).await? {
            None => self
                .add_user_with_claims(&spec.username, &spec.password, spec.claims.clone(), now)
                .await
                .map(|_| ()),
            Some(existing) => {
                if existing.claims != spec.claims {
                    self.store
                        .set_user_claims(&spec.username, &spec.claims)
                        .await?;
                }
                let same =
                    passwords::verify(spec.password.expose().to_owned(), existing.password_hash)
                        .await?;
                if !same {
                    self.set_password(&spec.username, &spec.password, now)
                        .await?;
                }
                Ok(())
            }
        }
    }

    /// Sets a user's password; ends their grants and sessions.
    pub async fn set_password(
        &self,
        username: &str,
        password: &SecretString,
        now: UnixTime,
    ) -> Result<bool, AdminError> {
        validate_password(password)?;
        let hash = passwords::hash(password.expose().to_owned()).await?;
        let changed = self.store.set_password(username, &hash, now).await?;
        if changed {
            let user = self.store.user_by_username(username).await?;
            self.audit(
                now,
                Kind::PasswordChanged,
                About {
                    user_id: user.as_ref().map(|u| u.user_id.as_str()),
                    ..About::default()
                },
                &format!("password of {username} set; their grants and sessions ended"),
            )
            .await;
        }
        Ok(changed)
    }

    /// Sets the claims that `changes` sets, keeping the user's others.
    pub async fn update_user_claims(
        &self,
        username: &str,
        changes: UserClaims,
        now: UnixTime,
    ) -> Result<UserClaims, AdminError> {
        let user = self
            .store
            .user_by_username(username)
            .await?
            .ok_or_else(|| AdminError::NoSuchUser(username.to_owned()))?;
        let mut claims = user.claims;
        claims.merge(changes);
        if !self.store.set_user_claims(username, &claims).await? {
            return Err(AdminError::NoSuchUser(username.to_owned()));
        }
        self.audit(
            now,
            Kind::UserChanged,
            About {
                user_id: Some(&user.user_id),
                ..About::default()
            },
            &format!("claims of {username} changed"),
        )
        .await;
        Ok(claims)
    }

    pub async fn users(&self) -> Result<Vec<User>, AdminError> {
        Ok(self.store.users().await?)
    }

    /// Removes the user; their grants end at `now`.
    pub async fn remove_user(&self, username: &str, now: UnixTime) -> Result<bool, AdminError> {
        let user = self.store.user_by_username(username).await?;
        let removed = self.store.delete_user(username, now).await?;
        if removed {
            self.audit(
                now,
                Kind::UserRemoved,
                About {
                    user_id: user.as_ref().map(|u| u.user_id.as_str()),
                    ..About::default()
                },
                &format!("user {username} removed; their grants are revoked"),
            )
            .await;
        }
        Ok(removed)
    }
}

fn validate_username(username: &str) -> Result<(), AdminError> {
    let ok = (1..=64).contains(&username.chars().count())
        && !username
            .chars()
            .any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(AdminError::Username)
    }
}

fn validate_password(password: &SecretString) -> Result<(), AdminError> {
    if password.expose().chars().count() >= 8 {
        Ok(())
    } else {
        Err(AdminError::WeakPassword)
    }
}
