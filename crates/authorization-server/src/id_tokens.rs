//! Minting ID tokens (OIDC Core §3.1.3.3) at the token endpoint: the claims
//! come from `tessera_core::id_token`, the key from the ID-token key of the
//! client's algorithm (RS256 unless the client chose otherwise).

use tessera_core::UnixTime;
use tessera_core::client::Client;
use tessera_core::id_token::{self, IdTokenFacts};

use crate::keys::KeysError;
use crate::state::AppState;
use crate::tokens::MintError;

/// Who an ID token is about and what it answers.
#[derive(Debug, Clone)]
pub struct IdTokenRequest<'a> {
    pub client: &'a Client,
    pub subject: &'a str,
    pub auth_time: UnixTime,
    /// The authorization request's nonce (code exchange only).
    pub nonce: Option<&'a str>,
    /// The access token issued in the same response (for `at_hash`).
    pub access_token: &'a str,
}

/// Signs an ID token for `request`.
pub fn mint_id_token(
    state: &AppState,
    request: &IdTokenRequest<'_>,
    now: UnixTime,
) -> Result<String, MintError> {
    let algorithm = request.client.id_token_algorithm();
    let key = state
        .keys
        .id_token_key_at(algorithm, now)
        .map_err(MintError::Keys)?;
    let claims = id_token::claims(&IdTokenFacts {
        issuer: state.config.issuer(),
        subject: request.subject,
        client_id: &request.client.client_id,
        auth_time: request.auth_time,
        nonce: request.nonce,
        access_token: Some(request.access_token),
        algorithm,
        now,
        // As long as the access token it comes with.
        lifetime: state.config.lifetimes.access_token,
    });
    Ok(key.sign_id_token(&claims)?)
}

impl From<KeysError> for MintError {
    fn from(e: KeysError) -> Self {
        MintError::Keys(e)
    }
}

/// The claims of an ID token this server signed (an `id_token_hint`): the
/// signature checks against a published key with that key's own algorithm,
/// `typ` is `JWT` and `iss` is ours. Expiry is not checked: OIDC Core
/// §3.1.2.1 lets an expired ID token serve as a hint.
pub fn verify_own_id_token(
    state: &AppState,
    token: &str,
    now: UnixTime,
) -> Option<id_token::IdTokenClaims> {
    crate::tokens::verify_own_signed(
        state,
        token,
        now,
        id_token::ID_TOKEN_TYP,
        &["iss", "sub", "aud"],
    )
}
