//! Minting access tokens (JWT or opaque) and finding any token the server
//! issued, for introspection and revocation.

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{DecodingKey, Validation};
use tessera_core::UnixTime;
use tessera_core::client::Client;
use tessera_core::grant::RefreshTokenRecord;
use tessera_core::jwt::{ACCESS_TOKEN_TYP, AccessTokenClaims, KeyError};
use tessera_core::resource::AccessTokenFormat;
use tessera_core::scope::Scope;
use tessera_core::secrets::{self, RandomnessUnavailable, TokenHash};
use tessera_store::{AccessTokenRecord, AccessTokenStatus, StoreError};

use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum MintError {
    #[error(transparent)]
    Random(#[from] RandomnessUnavailable),
    #[error(transparent)]
    Sign(#[from] KeyError),
    #[error(transparent)]
    Keys(crate::keys::KeysError),
}

/// Who and what an access token is for.
#[derive(Debug, Clone)]
pub struct AccessTokenRequest<'a> {
    pub client: &'a Client,
    /// The user, or the client itself for client credentials.
    pub subject: &'a str,
    pub grant_id: Option<&'a str>,
    pub scope: &'a Scope,
    pub audience: &'a str,
    pub auth_time: Option<UnixTime>,
}

/// Mints an access token in the client's format. The returned record must be
/// stored before the token is handed out.
pub fn mint_access_token(
    state: &AppState,
    request: &AccessTokenRequest<'_>,
    now: UnixTime,
) -> Result<(String, AccessTokenRecord), MintError> {
    let jti = secrets::new_id(state.rng.as_ref())?;
    let expires_at = now + state.config.lifetimes.access_token;
    let format = request
        .client
        .access_token_format
        .unwrap_or(state.config.access_token_format);
    let (token, token_hash) = match format {
        AccessTokenFormat::Jwt => {
            let claims = AccessTokenClaims {
                iss: state.config.issuer().to_owned(),
                sub: request.subject.to_owned(),
                aud: request.audience.to_owned(),
                client_id: request.client.client_id.clone(),
                scope: request.scope.to_string(),
                iat: now,
                exp: expires_at,
                jti: jti.clone(),
                auth_time: request.auth_time,
            };
            (state.signing_key_at(now).sign_access_token(&claims)?, None)
        }
        AccessTokenFormat::Opaque => {
            let token = secrets::new_opaque_token(state.rng.as_ref())?;
            let hash = TokenHash::of(token.expose());
            (token.expose().to_owned(), Some(hash))
        }
    };
    let record = AccessTokenRecord {
        jti,
        token_hash,
        grant_id: request.grant_id.map(str::to_owned),
        client_id: request.client.client_id.clone(),
        subject: request.subject.to_owned(),
        scope: request.scope.clone(),
        audience: request.audience.to_owned(),
        auth_time: request.auth_time,
        issued_at: now,
        expires_at,
    };
    Ok((token, record))
}

/// The claims of a JWT this server signed, whatever its expiry: the
/// signature checks against a published key with that key's own algorithm
/// (never `none`, never one the token chooses), `typ` is `at+jwt` and `iss`
/// is ours.
pub fn verify_own_jwt(state: &AppState, token: &str, now: UnixTime) -> Option<AccessTokenClaims> {
    verify_own_signed(
        state,
        token,
        now,
        ACCESS_TOKEN_TYP,
        &["iss", "exp", "sub", "aud"],
    )
}

/// The claims of a JWT of type `typ` signed by one of our published keys,
/// with the key's own algorithm, our `iss` and the `required` claims. Expiry
/// and audience are the caller's to judge (by the server's clock).
pub fn verify_own_signed<T: serde::de::DeserializeOwned>(
    state: &AppState,
    token: &str,
    now: UnixTime,
    typ: &str,
    required: &[&str],
) -> Option<T> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    if header.typ.as_deref() != Some(typ) {
        return None;
    }
    let kid = header.kid?;
    let jwk_value = state
        .keys
        .public_jwks_at(now)
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
    // Expiry is judged by the server's clock, not the library's.
    validation.validate_exp = false;
    validation.set_required_spec_claims(required);
    jsonwebtoken::decode::<T>(token, &key, &validation)
        .ok()
        .map(|d| d.claims)
}

/// Any token this server issued.
#[derive(Debug, Clone)]
pub enum FoundToken {
    Access(AccessTokenStatus),
    Refresh {
        hash: TokenHash,
        record: RefreshTokenRecord,
    },
}

/// Which kind of token to look for first (RFC 7009 `token_type_hint`); the
/// other kind is tried too, so a wrong hint changes nothing but speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    AccessToken,
    RefreshToken,
}

impl Hint {
    /// An unknown hint is ignored (RFC 7009 §2.1).
    pub fn parse(hint: Option<&str>) -> Self {
        match hint {
            Some("refresh_token") => Self::RefreshToken,
            _ => Self::AccessToken,
        }
    }
}

/// Finds a token by value: a JWT by its `jti` (after checking its
/// signature), an opaque access token or a refresh token by hash.
pub async fn find(
    state: &AppState,
    token: &str,
    hint: Hint,
    now: UnixTime,
) -> Result<Option<FoundToken>, StoreError> {
    let hash = TokenHash::of(token);
    let access = async {
        if let Some(claims) = verify_own_jwt(state, token, now) {
            return state.store.access_token_by_jti(&claims.jti).await;
        }
        state.store.access_token_by_hash(&hash).await
    };
    let refresh = async { state.store.refresh_token(&hash).await };
    Ok(match hint {
        Hint::AccessToken => match access.await? {
            Some(a) => Some(FoundToken::Access(a)),
            None => refresh.await?.map(|record| FoundToken::Refresh {
                hash: hash.clone(),
                record,
            }),
        },
        Hint::RefreshToken => match refresh.await? {
            Some(record) => Some(FoundToken::Refresh {
                hash: hash.clone(),
                record,
            }),
            None => access.await?.map(FoundToken::Access),
        },
    })
}
