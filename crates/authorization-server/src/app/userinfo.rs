//! OIDC UserInfo (OIDC Core §5.3): the claims of the user an access token
//! stands for. The token must be one we issued to a user (client-credentials
//! tokens have none), still standing, with the `openid` scope; the claims
//! released follow its scope. Refusals are the guard crate's `GuardError`,
//! so UserInfo answers exactly as any protected resource does (RFC 6750).

use serde_json::{Map, Value};
use tessera_core::id_token::OPENID;
use tessera_core::user_claims;
use tessera_protected_resource::GuardError;

use crate::state::AppState;
use crate::tokens::{self, FoundToken, Hint};

pub async fn claims(state: &AppState, token: &str) -> Result<Map<String, Value>, GuardError> {
    let unavailable = |e: tessera_store::StoreError| GuardError::Unavailable(e.to_string());
    let now = state.now();
    let found = tokens::find(state, token, Hint::AccessToken, now)
        .await
        .map_err(unavailable)?;
    let Some(FoundToken::Access(status)) = found else {
        return Err(GuardError::InvalidToken("the access token is not valid"));
    };
    let record = &status.record;
    if status.revoked_at.is_some() || status.grant_revoked_at.is_some() {
        return Err(GuardError::InvalidToken("the access token was revoked"));
    }
    if now >= record.expires_at {
        return Err(GuardError::InvalidToken("the access token has expired"));
    }
    if record.grant_id.is_none() || !record.scope.contains(OPENID) {
        return Err(GuardError::InsufficientScope {
            scope: OPENID.to_owned(),
        });
    }
    let user = state
        .store
        .user(&record.subject)
        .await
        .map_err(unavailable)?
        .ok_or(GuardError::InvalidToken("the user no longer exists"))?;
    Ok(user_claims::released(
        &user.user_id,
        &user.username,
        &user.claims,
        &record.scope,
    ))
}
