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
        .id_token_key(algorithm)
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
pub fn verify_own_id_token(state: &AppState, token: &str) -> Option<id_token::IdTokenClaims> {
    use jsonwebtoken::jwk::Jwk;
    use jsonwebtoken::{DecodingKey, Validation};

    let header = jsonwebtoken::decode_header(token).ok()?;
    if header.typ.as_deref() != Some(id_token::ID_TOKEN_TYP) {
        return None;
    }
    let kid = header.kid?;
    let jwk_value = state
        .public_jwks()
        .into_iter()
        .find(|k| k["kid"] == kid.as_str())?;
    let jwk: Jwk = serde_json::from_value(jwk_value).ok()?;
    let algorithm = jwk.common.key_algorithm?.to_string().parse().ok()?;
    if header.alg != algorithm {
        return None;
    }
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&[state.config.issuer()]);
    validation.validate_aud = false;
    validation.validate_exp = false;
    validation.set_required_spec_claims(&["iss", "sub", "aud"]);
    jsonwebtoken::decode::<id_token::IdTokenClaims>(token, &key, &validation)
        .ok()
        .map(|d| d.claims)
}
