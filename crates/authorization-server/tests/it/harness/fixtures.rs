//! The standard fixture every test server starts with: resources, clients
//! (with their secrets and redirect URIs), users, and the fixed start time.

use tessera_authorization_server::admin::{ClientSpec, ResourceSpec};
use tessera_authorization_server::keys::KeyEncryptionKey;
use tessera_core::secrets::SecretString;

use super::app::TestApp;

pub const RS1_SECRET: &str = "rs1-secret-0123456789-0123456789-abcdef";
pub const RS2_SECRET: &str = "rs2-secret-0123456789-0123456789-abcdef";
pub const SVC_SECRET: &str = "svc-secret-0123456789-0123456789-abcdef";
/// The default audience of the test server, registered as a resource.
pub const PHOTOS: &str = "https://photos.example";
pub const OTHER: &str = "https://other.example";
pub const C1_SECRET: &str = "c1-secret-0123456789-0123456789-abcdef";
pub const C2_SECRET: &str = "c2-secret-0123456789-0123456789-abcdef";
pub const C1_REDIRECT: &str = "https://client.example/cb";
pub const C2_REDIRECT: &str = "https://client2.example/cb";
pub const P1_REDIRECT: &str = "http://127.0.0.1/cb";
pub const ALICE: &str = "alice";
pub const ALICE_PASSWORD: &str = "alice-password-1";
pub const BOB: &str = "bob";
pub const BOB_PASSWORD: &str = "bob-password-12";
/// A fixed start time, so snapshots and expiry arithmetic are stable.
pub const T0: i64 = 1_800_000_000;
/// The access-token lifetime of the default configuration, in seconds.
pub const ACCESS_TOKEN_TTL: i64 = 600;
/// `c3` (registered on demand, [`register_c3`]): confidential,
/// `authorization_code` only, one redirect URI.
pub const C3_SECRET: &str = "c3-secret-0123456789-0123456789-abcdef";
/// `legacy` (registered on demand): confidential, opted out of PKCE.
pub const LEGACY_SECRET: &str = "legacy-secret-0123456789-0123456789";
/// The client `a b:c` of item 25 (registered on demand): reserved
/// characters in the id and secret.
pub const AB_ID: &str = "a b:c";
pub const AB_SECRET: &str = "p%&: +/=?#-0123456789abcdefghijklmn";
/// Every client secret the fixture knows: none may ever appear in a
/// response ([`super::assertions::assert_no_leak`]).
pub const ALL_SECRETS: &[&str] = &[
    C1_SECRET,
    C2_SECRET,
    RS1_SECRET,
    RS2_SECRET,
    SVC_SECRET,
    C3_SECRET,
    LEGACY_SECRET,
    AB_SECRET,
];
/// The key-encryption key of production-mode test servers.
/// Random bytes: production mode refuses a key that is not (issue 13 item 7).
pub const TEST_KEY_ENCRYPTION_KEY: KeyEncryptionKey = KeyEncryptionKey::from_bytes([
    132, 41, 54, 168, 251, 233, 245, 194, 120, 241, 127, 186, 122, 60, 69, 80, 199, 163, 15, 137,
    170, 163, 221, 80, 60, 15, 203, 51, 207, 122, 221, 10,
]);

/// A client registration: confidential when `secret` is given, the code and
/// refresh grants, PKCE required.
pub fn client(id: &str, secret: Option<&str>, redirects: &[&str], scopes: &[&str]) -> ClientSpec {
    ClientSpec {
        client_id: id.into(),
        client_secret: secret.map(SecretString::new),
        redirect_uris: redirects.iter().map(|s| s.to_string()).collect(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        name: Some(format!("Client {id}")),
        require_pkce: true,
        introspect: false,
        resource: None,
        access_token_format: None,
        id_token_signed_response_alg: None,
        post_logout_redirect_uris: Vec::new(),
    }
}

/// The secret of a confidential fixture client.
pub fn secret_of(client_id: &str) -> Option<&'static str> {
    match client_id {
        "c1" => Some(C1_SECRET),
        "c2" => Some(C2_SECRET),
        "rs1" => Some(RS1_SECRET),
        "rs2" => Some(RS2_SECRET),
        "svc" => Some(SVC_SECRET),
        "c3" => Some(C3_SECRET),
        "legacy" => Some(LEGACY_SECRET),
        AB_ID => Some(AB_SECRET),
        _ => None,
    }
}

/// The first registered redirect URI of a fixture client.
pub fn default_redirect(client_id: &str) -> &'static str {
    match client_id {
        "c1" => C1_REDIRECT,
        "c2" => C2_REDIRECT,
        _ => P1_REDIRECT,
    }
}

/// Registers `c3`: confidential, `authorization_code` only, redirect URI
/// [`P1_REDIRECT`], scopes a and b.
pub async fn register_c3(app: &TestApp) {
    let mut spec = client("c3", Some(C3_SECRET), &[P1_REDIRECT], &["a", "b"]);
    spec.grant_types = vec!["authorization_code".into()];
    app.register(spec).await;
}

/// Registers `p2`: public, redirect URI `http://127.0.0.1/p2`.
pub async fn register_p2(app: &TestApp) {
    app.register(client("p2", None, &["http://127.0.0.1/p2"], &["a", "b"]))
        .await;
}

/// Registers `legacy`: confidential, opted out of PKCE, redirect URI
/// [`P1_REDIRECT`].
pub async fn register_legacy(app: &TestApp) {
    let mut spec = client("legacy", Some(LEGACY_SECRET), &[P1_REDIRECT], &["a", "b"]);
    spec.require_pkce = false;
    app.register(spec).await;
}

impl TestApp {
    /// Registers the standard fixture: resources `PHOTOS` and `OTHER`, their
    /// introspecting resource servers `rs1` and `rs2`, the machine client
    /// `svc`, confidential clients `c1` and `c2`, public client `p1`, users
    /// alice and bob.
    pub(super) async fn seed(&self) {
        for (identifier, scopes) in [(PHOTOS, vec!["a", "b", "c"]), (OTHER, vec!["a"])] {
            let spec = ResourceSpec {
                identifier: identifier.into(),
                name: None,
                scopes: scopes.into_iter().map(str::to_owned).collect(),
            };
            self.admin
                .register_resource(&spec, T0)
                .await
                .expect("resource");
        }
        // Resource servers that may introspect tokens for their resource.
        for (id, secret, resource) in [("rs1", RS1_SECRET, PHOTOS), ("rs2", RS2_SECRET, OTHER)] {
            let mut spec = client(id, Some(secret), &[], &[]);
            spec.grant_types = vec!["client_credentials".into()];
            spec.introspect = true;
            spec.resource = Some(resource.into());
            self.register(spec).await;
        }
        // A machine client (client credentials only).
        let mut svc = client("svc", Some(SVC_SECRET), &[], &["a", "b"]);
        svc.grant_types = vec!["client_credentials".into()];
        self.register(svc).await;
        self.register(client(
            "c1",
            Some(C1_SECRET),
            &[C1_REDIRECT, "https://client.example/cb2"],
            &["a", "b", "c"],
        ))
        .await;
        self.register(client(
            "c2",
            Some(C2_SECRET),
            &[C2_REDIRECT],
            &["a", "b", "c"],
        ))
        .await;
        self.register(client("p1", None, &[P1_REDIRECT], &["a", "b"]))
            .await;
        self.admin
            .add_user(ALICE, &SecretString::new(ALICE_PASSWORD), T0)
            .await
            .expect("alice");
        self.admin
            .add_user(BOB, &SecretString::new(BOB_PASSWORD), T0)
            .await
            .expect("bob");
    }

    pub async fn register(&self, spec: ClientSpec) {
        self.admin
            .register_client(&spec, false, T0)
            .await
            .expect("register client");
    }

    /// alice's user id (the `sub` of her tokens).
    pub async fn alice_id(&self) -> String {
        self.store
            .user_by_username(ALICE)
            .await
            .expect("store")
            .expect("alice")
            .user_id
    }
}
