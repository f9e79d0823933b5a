//! Whether a token this server issued still stands: one rule for
//! introspection, revocation's owner check and UserInfo.

use tessera_core::UnixTime;
use tessera_core::grant::RefreshTokenRecord;
use tessera_store::AccessTokenStatus;

/// An access token stands until it expires, is revoked, or its grant is.
pub fn access_token_active(token: &AccessTokenStatus, now: UnixTime) -> bool {
    token.revoked_at.is_none() && token.grant_revoked_at.is_none() && now < token.record.expires_at
}

/// A refresh token stands until it is rotated, its grant revoked, or it
/// expires (idle or absolute).
pub fn refresh_token_active(token: &RefreshTokenRecord, now: UnixTime) -> bool {
    token.rotated_at.is_none()
        && token.grant_revoked_at.is_none()
        && now < refresh_token_expiry(token)
}

/// When a refresh token ends unless it is used: the earlier of its idle and
/// absolute expiry.
pub fn refresh_token_expiry(token: &RefreshTokenRecord) -> UnixTime {
    token.idle_expires_at.min(token.absolute_expires_at)
}
