//! What codes and refresh tokens stand for, and the rules for redeeming them
//! (RFC 6749 §4.1.3, §6, §10.4–§10.6; RFC 7636 §4.6; RFC 9700 §2.1.1, §4.14).
//!
//! A *grant* is one user's authorization of one client for a scope. The code,
//! every refresh token rotated from it (one "family"), and every access token
//! minted along the way carry its `grant_id`; revoking the grant ends them all.

use crate::UnixTime;
use crate::error::OAuthError;
use crate::pkce::CodeChallenge;
use crate::scope::Scope;

/// Lifetimes, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLifetimes {
    pub authorization_code: i64,
    pub access_token: i64,
    /// A refresh token unused for this long expires.
    pub refresh_token_idle: i64,
    /// No refresh token of a grant outlives the grant's start plus this.
    pub refresh_token_absolute: i64,
}

impl Default for TokenLifetimes {
    fn default() -> Self {
        Self {
            authorization_code: 60,
            access_token: 600,
            refresh_token_idle: 30 * 24 * 3600,
            refresh_token_absolute: 90 * 24 * 3600,
        }
    }
}

/// What an authorization code stands for. Stored under the code's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeGrant {
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    /// The authorization request named the redirect URI explicitly.
    pub redirect_uri_explicit: bool,
    pub scope: Scope,
    /// The `aud` of the tokens this code yields (RFC 8707).
    pub audience: String,
    pub code_challenge: Option<CodeChallenge>,
    pub nonce: Option<String>,
    pub auth_time: UnixTime,
    pub issued_at: UnixTime,
    pub expires_at: UnixTime,
}

/// Checks a redemption of a code that was just consumed (the store marks a
/// code used atomically *before* these checks, so a failed check burns it:
/// docs/conformance.md item 37).
pub fn check_code_redemption(
    code: &CodeGrant,
    client_id: &str,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
    now: UnixTime,
) -> Result<(), OAuthError> {
    // RFC 6749 §4.1.3: the code was issued to the authenticated client.
    if code.client_id != client_id {
        return Err(OAuthError::invalid_grant(
            "the code was not issued to this client",
        ));
    }
    if now >= code.expires_at {
        return Err(OAuthError::invalid_grant("the code has expired"));
    }
    // RFC 6749 §4.1.3: if redirect_uri was in the authorization request it
    // is required here and must be identical; if it was not, any value sent
    // must still be the one used.
    match (code.redirect_uri_explicit, redirect_uri) {
        (true, None) => {
            return Err(OAuthError::invalid_grant(
                "redirect_uri is required because the authorization request had one",
            ));
        }
        (_, Some(uri)) if uri != code.redirect_uri => {
            return Err(OAuthError::invalid_grant(
                "redirect_uri differs from the authorization request",
            ));
        }
        _ => {}
    }
    match &code.code_challenge {
        Some(challenge) => challenge.verify(code_verifier),
        // RFC 9700 §2.1.1: a verifier for a code without a challenge is a
        // downgrade attempt (Spring AS CVE-2024-22258 and others).
        None if code_verifier.is_some() => Err(OAuthError::invalid_request(
            "code_verifier was sent but the authorization request had no code_challenge",
        )),
        None => Ok(()),
    }
}

/// A stored refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    /// The grant's scope: a refreshed token keeps it even when the access
    /// token it came with was narrowed (RFC 6749 §6).
    pub scope: Scope,
    /// The grant's audience: the `aud` of access tokens refreshed from it.
    pub audience: String,
    pub auth_time: UnixTime,
    pub issued_at: UnixTime,
    pub idle_expires_at: UnixTime,
    pub absolute_expires_at: UnixTime,
    /// Set once this token has been exchanged for its successor.
    pub rotated_at: Option<UnixTime>,
    /// Set once the grant (the whole family) was revoked.
    pub grant_revoked_at: Option<UnixTime>,
}

/// Why a refresh is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshRejection {
    /// The token was already rotated: someone holds a copy. The caller must
    /// revoke the family (RFC 9700 §4.14.2).
    Reused,
    Invalid(OAuthError),
}

impl From<OAuthError> for RefreshRejection {
    fn from(e: OAuthError) -> Self {
        Self::Invalid(e)
    }
}

/// Checks a refresh request and returns the scope of the new access token.
pub fn check_refresh(
    token: &RefreshTokenRecord,
    client_id: &str,
    requested_scope: Option<&Scope>,
    now: UnixTime,
) -> Result<Scope, RefreshRejection> {
    // RFC 6749 §10.4: the binding to the client is verified first, so another
    // client can never use someone else's token. A live token it presents is
    // only refused (it cannot burn another client's grant), but one that was
    // already rotated is a leaked token in use: reuse, which ends the family
    // (the retry window serves only the token's own client).
    if token.client_id != client_id {
        if token.rotated_at.is_some() && token.grant_revoked_at.is_none() {
            return Err(RefreshRejection::Reused);
        }
        return Err(
            OAuthError::invalid_grant("the refresh token was not issued to this client").into(),
        );
    }
    if token.grant_revoked_at.is_some() {
        return Err(OAuthError::invalid_grant("the refresh token has been revoked").into());
    }
    if token.rotated_at.is_some() {
        return Err(RefreshRejection::Reused);
    }
    if now >= token.idle_expires_at || now >= token.absolute_expires_at {
        return Err(OAuthError::invalid_grant("the refresh token has expired").into());
    }
    match requested_scope {
        None => Ok(token.scope.clone()),
        Some(s) if s.is_empty() => Ok(token.scope.clone()),
        Some(s) if s.is_subset(&token.scope) => Ok(s.clone()),
        Some(_) => Err(OAuthError::invalid_scope(
            "the requested scope exceeds the scope originally granted",
        )
        .into()),
    }
}

/// The idle and absolute expiry of a refresh token issued `now` in a grant
/// that started at `grant_started`.
pub fn refresh_expiry(
    lifetimes: &TokenLifetimes,
    grant_started: UnixTime,
    now: UnixTime,
) -> (UnixTime, UnixTime) {
    let absolute = grant_started.saturating_add(lifetimes.refresh_token_absolute);
    (idle_expiry(lifetimes, absolute, now), absolute)
}

/// The expiry of the successor of `parent`, rotated `now`: a fresh idle
/// period, never past the family's absolute end (docs/conformance.md item 54).
pub fn rotated_refresh_expiry(
    lifetimes: &TokenLifetimes,
    parent: &RefreshTokenRecord,
    now: UnixTime,
) -> (UnixTime, UnixTime) {
    (
        idle_expiry(lifetimes, parent.absolute_expires_at, now),
        parent.absolute_expires_at,
    )
}

fn idle_expiry(lifetimes: &TokenLifetimes, absolute: UnixTime, now: UnixTime) -> UnixTime {
    now.saturating_add(lifetimes.refresh_token_idle)
        .min(absolute)
}

/// The answer kept for the refresh retry window, as far as the rule needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryCandidate<'a> {
    /// The scope the kept answer was issued with.
    pub scope: &'a str,
    /// When the kept answer was issued.
    pub issued_at: UnixTime,
}

/// The refresh retry window (docs/conformance.md decisions): a rotated token
/// presented again is a *retry*, answered with the identical pair, only by
/// its own client, with a window configured (`window_secs > 0`), an answer
/// still kept (the store returns it only inside the window and while the
/// child is unused) and the same scope asked for (none means the grant's).
/// Anything else is reuse, which ends the family (RFC 9700 §4.14.2).
/// Returns the `expires_in` of the kept access token when it is a retry.
pub fn retry_answer(
    token: &RefreshTokenRecord,
    client_id: &str,
    requested_scope: Option<&Scope>,
    kept: Option<RetryCandidate<'_>>,
    window_secs: i64,
    lifetimes: &TokenLifetimes,
    now: UnixTime,
) -> Option<i64> {
    let kept = kept?;
    if !retry_possible(token, client_id, window_secs) {
        return None;
    }
    let wanted = match requested_scope {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => token.scope.to_string(),
    };
    (kept.scope == wanted).then(|| {
        lifetimes
            .access_token
            .saturating_sub(now.saturating_sub(kept.issued_at))
    })
}

/// Whether a retry could apply at all, before the kept answer is read.
pub fn retry_possible(token: &RefreshTokenRecord, client_id: &str, window_secs: i64) -> bool {
    window_secs > 0 && token.client_id == client_id
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    fn code(challenge: bool) -> CodeGrant {
        CodeGrant {
            grant_id: "g".into(),
            client_id: "c1".into(),
            user_id: "u".into(),
            redirect_uri: "https://c.example/cb".into(),
            redirect_uri_explicit: true,
            scope: Scope::parse("a b").unwrap_or_default(),
            audience: "https://rs.example".into(),
            code_challenge: challenge.then(|| CodeChallenge::s256_of(VERIFIER)),
            nonce: None,
            auth_time: 0,
            issued_at: 100,
            expires_at: 160,
        }
    }

    fn err(r: Result<(), OAuthError>) -> Option<ErrorCode> {
        r.err().map(|e| e.code)
    }

    #[test]
    fn a_good_redemption_passes() {
        assert_eq!(
            check_code_redemption(
                &code(true),
                "c1",
                Some("https://c.example/cb"),
                Some(VERIFIER),
                159
            ),
            Ok(())
        );
    }

    #[test]
    fn conformance_1d_33_code_lifetime_edge() {
        let c = code(true);
        assert_eq!(
            err(check_code_redemption(
                &c,
                "c1",
                Some(&c.redirect_uri),
                Some(VERIFIER),
                160
            )),
            Some(ErrorCode::InvalidGrant)
        );
    }

    #[test]
    fn conformance_1d_34_35_code_bound_to_client_and_redirect_uri() {
        let c = code(true);
        assert_eq!(
            err(check_code_redemption(
                &c,
                "c2",
                Some(&c.redirect_uri),
                Some(VERIFIER),
                120
            )),
            Some(ErrorCode::InvalidGrant)
        );
        assert_eq!(
            err(check_code_redemption(
                &c,
                "c1",
                Some("https://c.example/cb2"),
                Some(VERIFIER),
                120
            )),
            Some(ErrorCode::InvalidGrant)
        );
        assert_eq!(
            err(check_code_redemption(&c, "c1", None, Some(VERIFIER), 120)),
            Some(ErrorCode::InvalidGrant)
        );
        let implicit = CodeGrant {
            redirect_uri_explicit: false,
            ..code(true)
        };
        assert_eq!(
            check_code_redemption(&implicit, "c1", None, Some(VERIFIER), 120),
            Ok(())
        );
    }

    #[test]
    fn conformance_1e_pkce_rules() {
        let c = code(true);
        let uri = Some(c.redirect_uri.as_str());
        assert_eq!(
            err(check_code_redemption(&c, "c1", uri, None, 120)),
            Some(ErrorCode::InvalidGrant),
            "39 missing verifier"
        );
        assert_eq!(
            err(check_code_redemption(
                &c,
                "c1",
                uri,
                Some(&VERIFIER.replace('d', "e")),
                120
            )),
            Some(ErrorCode::InvalidGrant),
            "38 mismatch"
        );
        let challenge = CodeChallenge::s256_of(VERIFIER);
        assert_eq!(
            err(check_code_redemption(
                &c,
                "c1",
                uri,
                Some(challenge.as_str()),
                120
            )),
            Some(ErrorCode::InvalidGrant),
            "41 method downgrade"
        );
        let none = code(false);
        assert_eq!(
            err(check_code_redemption(&none, "c1", uri, Some(VERIFIER), 120)),
            Some(ErrorCode::InvalidRequest),
            "40 downgrade"
        );
    }

    fn rt() -> RefreshTokenRecord {
        RefreshTokenRecord {
            grant_id: "g".into(),
            client_id: "c1".into(),
            user_id: "u".into(),
            scope: Scope::parse("a b").unwrap_or_default(),
            audience: "https://rs.example".into(),
            auth_time: 0,
            issued_at: 0,
            idle_expires_at: 1000,
            absolute_expires_at: 2000,
            rotated_at: None,
            grant_revoked_at: None,
        }
    }

    #[test]
    fn conformance_1f_refresh_rules() {
        let a = Scope::parse("a").unwrap_or_default();
        let abc = Scope::parse("a b c").unwrap_or_default();
        assert_eq!(check_refresh(&rt(), "c1", None, 10), Ok(rt().scope), "47");
        assert_eq!(
            check_refresh(&rt(), "c1", Some(&a), 10),
            Ok(a.clone()),
            "52 down-scope"
        );
        assert!(
            matches!(check_refresh(&rt(), "c1", Some(&abc), 10), Err(RefreshRejection::Invalid(e)) if e.code == ErrorCode::InvalidScope),
            "53"
        );
        assert!(
            matches!(check_refresh(&rt(), "c2", None, 10), Err(RefreshRejection::Invalid(e)) if e.code == ErrorCode::InvalidGrant),
            "48"
        );
        assert_eq!(
            check_refresh(
                &RefreshTokenRecord {
                    rotated_at: Some(5),
                    ..rt()
                },
                "c2",
                None,
                10
            ),
            Err(RefreshRejection::Reused),
            "a rotated token from another client is reuse"
        );
        assert_eq!(
            check_refresh(
                &RefreshTokenRecord {
                    rotated_at: Some(5),
                    ..rt()
                },
                "c1",
                None,
                10
            ),
            Err(RefreshRejection::Reused),
            "51"
        );
        assert!(
            matches!(check_refresh(&rt(), "c1", None, 1000), Err(RefreshRejection::Invalid(e)) if e.code == ErrorCode::InvalidGrant),
            "54 idle"
        );
        let revoked = RefreshTokenRecord {
            grant_revoked_at: Some(5),
            ..rt()
        };
        assert!(
            matches!(
                check_refresh(&revoked, "c1", None, 10),
                Err(RefreshRejection::Invalid(_))
            ),
            "54 revoked"
        );
    }

    #[test]
    fn refresh_expiry_is_capped_by_the_absolute_lifetime() {
        let l = TokenLifetimes {
            refresh_token_idle: 100,
            refresh_token_absolute: 150,
            ..Default::default()
        };
        assert_eq!(refresh_expiry(&l, 0, 10), (110, 150));
        assert_eq!(refresh_expiry(&l, 0, 120), (150, 150));
    }

    #[test]
    fn conformance_54_a_rotated_token_gets_a_fresh_idle_period_within_the_absolute_end() {
        let l = TokenLifetimes {
            refresh_token_idle: 100,
            refresh_token_absolute: 150,
            ..TokenLifetimes::default()
        };
        let mut parent = rt();
        parent.absolute_expires_at = 1_000;
        assert_eq!(rotated_refresh_expiry(&l, &parent, 500), (600, 1_000));
        assert_eq!(rotated_refresh_expiry(&l, &parent, 950), (1_000, 1_000));
    }

    #[test]
    fn retry_window_only_same_client_same_scope_inside_a_configured_window() {
        let l = TokenLifetimes::default();
        let token = rt();
        let grant_scope = token.scope.to_string();
        let kept = Some(RetryCandidate {
            scope: &grant_scope,
            issued_at: 1_000,
        });
        let now = 1_004;
        // The same client, no scope named: the grant's scope, the same pair,
        // whose access token has aged 4 seconds.
        assert_eq!(
            retry_answer(&token, &token.client_id, None, kept, 10, &l, now),
            Some(l.access_token - 4)
        );
        assert!(retry_possible(&token, &token.client_id, 10));
        // Another client, no window, no kept answer, another scope: reuse.
        assert_eq!(retry_answer(&token, "other", None, kept, 10, &l, now), None);
        assert!(!retry_possible(&token, "other", 10));
        assert_eq!(
            retry_answer(&token, &token.client_id, None, kept, 0, &l, now),
            None
        );
        assert!(!retry_possible(&token, &token.client_id, 0));
        assert_eq!(
            retry_answer(&token, &token.client_id, None, None, 10, &l, now),
            None
        );
        let narrower = Scope::parse("a").unwrap_or_default();
        assert_eq!(
            retry_answer(&token, &token.client_id, Some(&narrower), kept, 10, &l, now),
            None
        );
    }
}
