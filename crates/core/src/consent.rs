//! Remembered consent: when a user's earlier decision answers a new
//! authorization request without showing the consent page again
//! (docs/conformance.md decisions: per user, client and scope set; `prompt=consent`
//! always shows the page; for public clients only for the redirect URI that
//! got it, since their identity cannot be assured), and what the consent
//! page may offer as a choice (`openid` is not one).

use crate::authorize::AuthorizationRequest;
use crate::client::Client;
use crate::scope::Scope;

/// What is remembered of a user's consent to one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    pub scope: Scope,
    /// For public clients, the redirect URI the consent was given for.
    pub redirect_uri: Option<String>,
}

/// Whether `remembered` answers `request` without asking the user.
pub fn covers(
    remembered: Option<&Remembered>,
    client: &Client,
    request: &AuthorizationRequest,
) -> bool {
    if request.prompt.consent {
        return false;
    }
    remembered.is_some_and(|c| {
        request.scope.is_subset(&c.scope)
            && (!client.is_public()
                || c.redirect_uri.as_deref() == Some(request.redirect.uri.as_str()))
    })
}

/// What to remember after the user granted `granted` for `request`. The
/// user's latest decision wins, scope by scope: what was asked now is
/// remembered exactly as decided now (granted, or refused by being left
/// unchecked), and only scopes not asked this time keep their earlier
/// decision. So a scope refused on a `prompt=consent` page is not granted
/// again silently by the next ordinary request (it shows the page), and one
/// granted later is remembered. A consent for another redirect URI (public
/// clients) is replaced.
pub fn remember(
    previous: Option<&Remembered>,
    client: &Client,
    request: &AuthorizationRequest,
    granted: &Scope,
) -> Remembered {
    let redirect_uri = client.is_public().then(|| request.redirect.uri.clone());
    let scope = match previous {
        Some(p) if p.redirect_uri == redirect_uri => {
            p.scope.difference(&request.scope).union(granted)
        }
        _ => granted.clone(),
    };
    Remembered {
        scope,
        redirect_uri,
    }
}

/// Scopes that are not a choice on the consent page. `openid` says what the
/// client is (an OpenID Connect client signing the user in), not a
/// permission: a client asking for it breaks without it (no ID token), so it
/// is shown as a fixed line, and refusing it is refusing the request (Deny).
pub const FIXED_SCOPES: &[&str] = &["openid"];

/// Whether the consent page may let the user leave `scope` unchecked.
pub fn is_optional(scope: &str) -> bool {
    !FIXED_SCOPES.contains(&scope)
}

/// What the user approved: only what was asked can be granted, whatever the
/// consent form says, and the fixed scopes asked for are granted with it
/// (a form that omits `openid`, which the page never offers as a choice, does
/// not drop it).
pub fn granted(checked: &Scope, request: &AuthorizationRequest) -> Scope {
    let fixed = request
        .scope
        .iter()
        .filter(|s| !is_optional(s))
        .map(str::to_owned);
    let fixed = Scope::from_tokens(fixed).unwrap_or_default();
    checked.intersection(&request.scope).union(&fixed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authorize::{Prompt, TrustedRedirect};
    use crate::client::GrantType;
    use std::collections::BTreeSet;

    fn client(public: bool) -> Client {
        Client {
            client_id: "c1".into(),
            name: "C1".into(),
            secret_hash: (!public).then(|| "h".into()),
            redirect_uris: vec!["http://127.0.0.1/cb".into()],
            scopes: Scope::parse("a b c").unwrap_or_default(),
            grant_types: BTreeSet::from([GrantType::AuthorizationCode]),
            require_pkce: true,
            introspect: false,
            resource: None,
            access_token_format: None,
            id_token_signed_response_alg: None,
            post_logout_redirect_uris: Vec::new(),
        }
    }

    fn request(scope: &str, uri: &str, consent: bool) -> AuthorizationRequest {
        AuthorizationRequest {
            client_id: "c1".into(),
            redirect: TrustedRedirect {
                uri: uri.into(),
                explicit: true,
                state: None,
            },
            scope: Scope::parse(scope).unwrap_or_default(),
            resource: None,
            audience: "https://rs".into(),
            code_challenge: None,
            prompt: Prompt {
                consent,
                ..Prompt::default()
            },
            nonce: None,
            max_age: None,
            min_auth_time: None,
            refused_session: None,
            login_hint: None,
            id_token_hint: None,
        }
    }

    fn remembered(scope: &str, uri: Option<&str>) -> Remembered {
        Remembered {
            scope: Scope::parse(scope).unwrap_or_default(),
            redirect_uri: uri.map(str::to_owned),
        }
    }

    #[test]
    fn a_remembered_scope_set_covers_its_subsets_only() {
        let c = client(false);
        let r = remembered("a b", None);
        assert!(covers(Some(&r), &c, &request("a", "https://x/cb", false)));
        assert!(covers(Some(&r), &c, &request("a b", "https://x/cb", false)));
        assert!(!covers(
            Some(&r),
            &c,
            &request("a c", "https://x/cb", false)
        ));
        assert!(!covers(None, &c, &request("a", "https://x/cb", false)));
    }

    #[test]
    fn prompt_consent_always_asks() {
        let r = remembered("a b", None);
        assert!(!covers(
            Some(&r),
            &client(false),
            &request("a", "https://x/cb", true)
        ));
    }

    #[test]
    fn a_public_clients_consent_holds_only_for_its_redirect_uri() {
        let c = client(true);
        let r = remembered("a", Some("http://127.0.0.1/cb"));
        assert!(covers(
            Some(&r),
            &c,
            &request("a", "http://127.0.0.1/cb", false)
        ));
        assert!(!covers(
            Some(&r),
            &c,
            &request("a", "http://127.0.0.1/other", false)
        ));
        // Remembering for another URI replaces, for the same URI adds.
        let other = remember(
            Some(&r),
            &c,
            &request("b", "http://127.0.0.1/other", false),
            &Scope::parse("b").unwrap_or_default(),
        );
        assert_eq!(other, remembered("b", Some("http://127.0.0.1/other")));
        let same = remember(
            Some(&r),
            &c,
            &request("b", "http://127.0.0.1/cb", false),
            &Scope::parse("b").unwrap_or_default(),
        );
        assert_eq!(same, remembered("a b", Some("http://127.0.0.1/cb")));
    }

    #[test]
    fn only_requested_scopes_can_be_granted() {
        let r = request("a b", "https://x/cb", false);
        let checked = Scope::parse("b c").unwrap_or_default();
        assert_eq!(granted(&checked, &r).to_string(), "b");
    }

    /// Issue 12 item 3: `openid` is not a choice. A form that leaves it out
    /// while granting another scope still grants it; a request without it
    /// gets nothing extra.
    #[test]
    fn openid_is_granted_with_any_approval_even_if_the_form_omits_it() {
        assert!(!is_optional("openid"));
        assert!(is_optional("profile") && is_optional("photos:read"));
        let oidc = request("openid profile a", "https://x/cb", false);
        let only_a = Scope::parse("a").unwrap_or_default();
        assert_eq!(granted(&only_a, &oidc).to_string(), "a openid");
        assert_eq!(
            granted(&Scope::default(), &oidc).to_string(),
            "openid",
            "approving with every choice unchecked is signing in only"
        );
        let plain = request("a b", "https://x/cb", false);
        assert_eq!(
            granted(&Scope::parse("a openid").unwrap_or_default(), &plain).to_string(),
            "a",
            "openid that was not asked is not granted"
        );
    }

    /// Allow both, then refuse one on a `prompt=consent` page: the next
    /// ordinary request for both is not covered (the page shows again), and
    /// the one still granted is.
    #[test]
    fn the_latest_refusal_wins_over_an_earlier_grant() {
        let c = client(false);
        let both = request("a b", "https://x/cb", false);
        let first = remember(None, &c, &both, &Scope::parse("a b").unwrap_or_default());
        assert!(covers(Some(&first), &c, &both));
        let asked_again = request("a b", "https://x/cb", true);
        let latest = remember(
            Some(&first),
            &c,
            &asked_again,
            &Scope::parse("a").unwrap_or_default(),
        );
        assert_eq!(latest, remembered("a", None));
        assert!(!covers(Some(&latest), &c, &both), "b was refused last");
        assert!(covers(
            Some(&latest),
            &c,
            &request("a", "https://x/cb", false)
        ));
    }

    /// The other order: refuse one first, grant both later: both are
    /// remembered.
    #[test]
    fn the_latest_grant_wins_over_an_earlier_refusal() {
        let c = client(false);
        let both = request("a b", "https://x/cb", false);
        let first = remember(None, &c, &both, &Scope::parse("a").unwrap_or_default());
        assert!(!covers(Some(&first), &c, &both));
        let asked_again = request("a b", "https://x/cb", true);
        let latest = remember(
            Some(&first),
            &c,
            &asked_again,
            &Scope::parse("a b").unwrap_or_default(),
        );
        assert_eq!(latest, remembered("a b", None));
        assert!(covers(Some(&latest), &c, &both));
    }

    /// Scopes not asked this time keep their earlier decision.
    #[test]
    fn scopes_not_asked_keep_their_earlier_decision() {
        let c = client(false);
        let first = remembered("a b", None);
        let only_c = request("c", "https://x/cb", false);
        let latest = remember(
            Some(&first),
            &c,
            &only_c,
            &Scope::parse("c").unwrap_or_default(),
        );
        assert_eq!(latest, remembered("a b c", None));
    }
}
