//! Rows the store keeps that the protocol core does not define.

use tessera_core::UnixTime;
use tessera_core::scope::Scope;

/// A resource owner who can log in.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// Stable, opaque; the `sub` of this user's tokens.
    pub user_id: String,
    pub username: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    pub created_at: UnixTime,
    /// Standard claims (name, email, …) released at UserInfo by scope.
    pub claims: tessera_core::user_claims::UserClaims,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("user_id", &self.user_id)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A signing key as stored. The store never sees a private key in clear: the
/// server seals the PKCS#8 DER before handing it over.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSigningKey {
    pub kid: String,
    /// The JWS `alg` (`ES256`, `EdDSA`, `RS256`).
    pub algorithm: String,
    /// How `private_key` is protected: `A256GCM` (sealed under the
    /// key-encryption key, the kid as associated data), or `none` for keys
    /// written in clear before migration 0003, which the server seals at
    /// start.
    pub encryption: String,
    pub private_key: Vec<u8>,
    /// Published in the JWKS from here on.
    pub created_at: UnixTime,
    /// Used for signing from here on (until a later key activates).
    pub activates_at: UnixTime,
    /// Neither published nor used from here on.
    pub retired_at: Option<UnixTime>,
    /// What the key signs: [`PURPOSE_ACCESS_TOKEN`] or [`PURPOSE_ID_TOKEN`].
    pub purpose: String,
}

/// `purpose` of the access-token signing chain (every key before OIDC).
pub const PURPOSE_ACCESS_TOKEN: &str = "access_token";
/// `purpose` of ID-token keys: one chain per algorithm.
pub const PURPOSE_ID_TOKEN: &str = "id_token";

impl std::fmt::Debug for StoredSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// A browser session at the authorization server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id_hash: tessera_core::secrets::TokenHash,
    /// Anti-CSRF token for this session's forms. Not a credential by itself.
    pub csrf_token: String,
    /// Set once the user logged in.
    pub user_id: Option<String>,
    pub auth_time: Option<UnixTime>,
    pub created_at: UnixTime,
    pub expires_at: UnixTime,
}

/// A remembered consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub user_id: String,
    pub client_id: String,
    pub scope: Scope,
    /// For public clients, the redirect URI the consent was given for: it is
    /// honoured only for that URI (docs/conformance.md decisions).
    pub redirect_uri: Option<String>,
    pub granted_at: UnixTime,
}

/// One user's authorization of one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub scope: Scope,
    pub audience: String,
    pub auth_time: UnixTime,
    pub created_at: UnixTime,
    pub revoked_at: Option<UnixTime>,
}

/// An issued access token, by `jti`: what introspection reports about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenRecord {
    pub jti: String,
    /// Set for opaque tokens, which are found by hash.
    pub token_hash: Option<tessera_core::secrets::TokenHash>,
    /// `None` for tokens from the client credentials grant.
    pub grant_id: Option<String>,
    pub client_id: String,
    /// The user, or the client itself for client credentials.
    pub subject: String,
    pub scope: Scope,
    pub audience: String,
    pub auth_time: Option<UnixTime>,
    pub issued_at: UnixTime,
    pub expires_at: UnixTime,
}

/// An access token as stored, with whether it still stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenStatus {
    pub record: AccessTokenRecord,
    /// Revoked by itself (RFC 7009) ...
    pub revoked_at: Option<UnixTime>,
    /// ... or through its grant (code replay, refresh reuse, revocation of
    /// the refresh token, password change).
    pub grant_revoked_at: Option<UnixTime>,
}

/// A refresh token about to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefreshToken {
    pub grant_id: String,
    pub client_id: String,
    pub issued_at: UnixTime,
    pub idle_expires_at: UnixTime,
    pub absolute_expires_at: UnixTime,
}

/// Something a security team wants to see: a code or refresh token replayed,
/// a constant PKCE challenge, repeated failed client authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityEvent {
    /// The row's id (ascending with time); `None` before it is stored.
    pub id: Option<i64>,
    pub at: UnixTime,
    pub kind: String,
    pub client_id: Option<String>,
    pub user_id: Option<String>,
    pub grant_id: Option<String>,
    pub detail: String,
    /// Where the request came from: the client's address, or `command line`.
    pub source: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
}

/// Which audit events to read ([`crate::Store::search_security_events`]):
/// every filter that is set must match. Newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventQuery {
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub kind: Option<String>,
    /// Events at or after this time.
    pub since: Option<UnixTime>,
    /// Events with a larger id (to follow the trail).
    pub after_id: Option<i64>,
    pub limit: u32,
}

/// The answer to a refresh, sealed, kept on the parent token for the retry
/// window so a retry within it gets the same pair.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshRetry {
    pub until: UnixTime,
    /// AES-256-GCM ciphertext: the store never sees the tokens in clear.
    pub sealed: Vec<u8>,
}

impl std::fmt::Debug for RefreshRetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshRetry")
            .field("until", &self.until)
            .finish_non_exhaustive()
    }
}

/// Failed logins counted under one throttle key (an account or a source
/// address), while they count: until `expires_at`, a window after the last
/// one. What they mean (a delay, a lockout) is the server's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailures {
    pub failures: u32,
    pub last_failure_at: UnixTime,
    pub expires_at: UnixTime,
}

/// What one housekeeping pass removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeReport {
    pub codes: u64,
    pub refresh_tokens: u64,
    pub access_tokens: u64,
    pub sessions: u64,
    pub authorization_requests: u64,
    pub retry_copies: u64,
    /// Failed-login counts whose window has passed.
    pub login_failures: u64,
}

impl PurgeReport {
    pub fn total(&self) -> u64 {
        self.codes
            + self.refresh_tokens
            + self.access_tokens
            + self.sessions
            + self.authorization_requests
            + self.retry_copies
            + self.login_failures
    }
}
