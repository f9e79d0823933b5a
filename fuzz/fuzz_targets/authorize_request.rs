//! The authorization-request parser (core `params.rs`, `authorize.rs`): any
//! query string is answered with a page error, a redirect error or a
//! validated request, never a panic; a trusted redirect echoes exactly the
//! `state` that was sent, and its error `Location` parses back.
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use tessera_core::Scope;
use tessera_core::authorize::{identify_client, success_location, trust_redirect, validate};
use tessera_core::client::{Client, GrantType};
use tessera_core::params::Params;
use tessera_core::resource::Resource;

fn client(id: &str, public: bool) -> Client {
    Client {
        client_id: id.into(),
        name: "Fuzz".into(),
        secret_hash: (!public).then(|| "h".into()),
        redirect_uris: vec![
            "https://client.example/cb".into(),
            "http://127.0.0.1/cb".into(),
            "http://[::1]:8080/cb?x=1".into(),
        ],
        scopes: Scope::parse("openid profile photos:read photos:write").unwrap_or_default(),
        grant_types: BTreeSet::from([GrantType::AuthorizationCode, GrantType::RefreshToken]),
        require_pkce: public,
        introspect: false,
        resource: None,
        access_token_format: None,
        id_token_signed_response_alg: None,
        post_logout_redirect_uris: Vec::new(),
    }
}

fuzz_target!(|data: &[u8]| {
    let params = Params::parse(data);
    let Ok(id) = identify_client(&params) else {
        return;
    };
    let resource = Resource {
        identifier: "https://rs.example".into(),
        name: "RS".into(),
        scopes: Scope::parse("photos:read photos:write").unwrap_or_default(),
    };
    for public in [true, false] {
        let c = client(id, public);
        let Ok(redirect) = trust_redirect(&params, &c) else {
            continue;
        };
        if let Ok(Some(sent)) = params.single("state") {
            assert_eq!(
                redirect.state.as_deref(),
                Some(sent),
                "state not echoed exactly"
            );
        }
        assert!(
            c.redirect_uris
                .iter()
                .any(|r| tessera_core::redirect_uri::matches(r, &redirect.uri))
        );
        let location = success_location(&redirect, "code", "https://as.example");
        assert!(location.starts_with(&redirect.uri));
        match validate(&params, &c, redirect) {
            Ok(v) => {
                let registered = v.resource().is_some().then_some(&resource);
                let _ = v.decide(
                    registered,
                    "https://default.example",
                    tessera_fuzz::NOW,
                    None,
                );
            }
            Err(e) => {
                let location = e.location("https://as.example");
                assert!(location.starts_with(&e.redirect.uri));
            }
        }
    }
});
