//! Signing keys over time: rotation with pre-publication, retirement only
//! once the tokens a key signed have expired, EdDSA and RS256, encryption at
//! rest, and a running server picking up keys rotated by another process.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use tessera_authorization_server::AppState;
use tessera_authorization_server::clock::Clock as _;
use tessera_authorization_server::keys::{
    DEV_KEK_SETTING, KeyEncryptionKey, KeyManager, KeyState, KeysError, RetireRefused, format_utc,
};
use tessera_authorization_server::state::InitError;
use tessera_core::jwt::{AccessTokenClaims, SigningAlgorithm, SigningKey};
use tessera_runtime::SystemRandomness;
use tessera_store::StoredSigningKey;

use crate::harness::*;

async fn jwks(app: &TestApp) -> JwkSet {
    let r = app.http().get(app.url("/jwks.json")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// The published access-token keys (the ID-token keys, one per algorithm,
/// are published too: see the OIDC tests).
async fn published_kids(app: &TestApp) -> Vec<String> {
    let id_token_kids: Vec<String> = app
        .store
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .filter(|k| k.purpose == "id_token")
        .map(|k| k.kid)
        .collect();
    jwks(app)
        .await
        .keys
        .into_iter()
        .filter_map(|k| k.common.key_id)
        .filter(|kid| !id_token_kids.contains(kid))
        .collect()
}

/// The stored access-token keys.
async fn access_token_keys(app: &TestApp) -> Vec<tessera_store::StoredSigningKey> {
    app.store
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .filter(|k| k.purpose == "access_token")
        .collect()
}

fn header(token: &str) -> jsonwebtoken::Header {
    jsonwebtoken::decode_header(token).unwrap()
}

fn kid_of(token: &str) -> String {
    header(token).kid.unwrap()
}

/// Verifies `token` as a resource server would: the key named by its `kid`
/// from the published JWKS, that key's own algorithm, and expiry by the
/// server's clock (the test clock runs ahead of the wall clock).
async fn verify(app: &TestApp, token: &str) -> Result<AccessTokenClaims, String> {
    let header = header(token);
    let set = jwks(app).await;
    let kid = header.kid.ok_or("no kid")?;
    let jwk = set
        .find(&kid)
        .ok_or(format!("kid {kid} is not published"))?;
    let algorithm: Algorithm = jwk
        .common
        .key_algorithm
        .ok_or("no alg in the JWK")?
        .to_string()
        .parse()
        .map_err(|_| "unknown alg")?;
    if header.alg != algorithm {
        return Err(format!(
            "token alg {:?} != key alg {algorithm:?}",
            header.alg
        ));
    }
    let mut v = Validation::new(algorithm);
    v.set_audience(&[PHOTOS]);
    v.set_issuer(&[app.issuer()]);
    v.validate_exp = false;
    let claims = jsonwebtoken::decode::<AccessTokenClaims>(
        token,
        &DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?,
        &v,
    )
    .map_err(|e| e.to_string())?
    .claims;
    if claims.exp <= app.clock.now() {
        return Err("expired".into());
    }
    Ok(claims)
}

/// A fresh access token for the machine client `svc`.
async fn machine_token(app: &TestApp) -> String {
    let r = app
        .token(
            &[("grant_type", "client_credentials"), ("scope", "a")],
            Some(("svc", SVC_SECRET)),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

/// What `tessera keys …` does: its own connection to the same database.
async fn other_process(app: &TestApp) -> KeyManager {
    let config = &app.state.config;
    KeyManager::new(
        app.second_store().await,
        Arc::new(SystemRandomness),
        config.keys.clone(),
        config.mode(),
        config.lifetimes.access_token,
    )
}

async fn restart(
    app: &TestApp,
    config: tessera_authorization_server::ServerConfig,
) -> Result<AppState, InitError> {
    AppState::new(
        app.store.clone(),
        config,
        Arc::new(app.clock.clone()),
        Arc::new(SystemRandomness),
    )
    .await
}

/// Rotation end to end: a token, a rotation, another token; both
/// verify against the published JWKS until the first expires; the old key
/// can be retired only then, and leaves the JWKS.
#[tokio::test]
async fn rotation_keeps_old_tokens_verifiable_until_they_expire() {
    let app = TestApp::builder()
        .configure(|c| {
            c.lifetimes.access_token = 3600;
            c.keys.prepublication_secs = 600;
        })
        .spawn()
        .await;
    let first = app.tokens_for("c1", "a").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let old = kid_of(&first);
    verify(&app, &first).await.unwrap();

    // `tessera keys rotate`, from another process; the server sees it at its
    // next reload.
    let cli = other_process(&app).await;
    let new = cli.rotate(None, false, app.clock.now()).await.unwrap();
    assert_eq!(new.state, KeyState::Pending);
    assert_eq!(new.activates_at, T0 + 600);
    app.state.keys.reload().await.unwrap();
    assert_eq!(published_kids(&app).await, [old.clone(), new.kid.clone()]);

    // Inside the pre-publication window the old key still signs.
    app.clock.set(T0 + 599);
    let last_of_old = machine_token(&app).await;
    assert_eq!(kid_of(&last_of_old), old);
    app.clock.set(T0 + 600);
    let second = machine_token(&app).await;
    assert_eq!(
        kid_of(&second),
        new.kid,
        "the new key signs from activates_at"
    );

    // Every token verifies, through the last one the old key signed.
    for token in [&first, &last_of_old, &second] {
        verify(&app, token).await.unwrap();
    }
    app.clock.set(T0 + 599 + 3600 - 1);
    verify(&app, &last_of_old).await.unwrap();
    verify(&app, &second).await.unwrap();

    // Retiring the old key is refused while a token it signed may be live:
    // it stopped signing at T0 + 600; tokens live 3600 s; servers reload
    // every 30 s.
    let retirable = T0 + 600 + 3600 + 30;
    for now in [T0 + 600, T0 + 599 + 3600, retirable - 1] {
        let refused = cli.retire(&old, now).await.unwrap_err();
        assert!(
            matches!(refused, KeysError::Refused(RetireRefused::StillVerifying { retirable_at, .. }) if retirable_at == retirable),
            "{refused}"
        );
        assert!(
            refused.to_string().contains(&format_utc(retirable)),
            "{refused}"
        );
    }
    assert!(matches!(
        cli.retire(&new.kid, retirable).await,
        Err(KeysError::Refused(RetireRefused::StillActive(_)))
    ));
    assert_eq!(published_kids(&app).await, [old.clone(), new.kid.clone()]);

    app.clock.set(retirable);
    let retired = cli.retire(&old, app.clock.now()).await.unwrap();
    assert_eq!(retired.state, KeyState::Retired);
    app.state.keys.reload().await.unwrap();
    assert_eq!(published_kids(&app).await, std::slice::from_ref(&new.kid));
    assert_eq!(
        verify(&app, &last_of_old).await,
        Err(format!("kid {old} is not published"))
    );
    verify(&app, &machine_token(&app).await).await.unwrap();
    assert!(matches!(
        cli.retire(&old, app.clock.now()).await,
        Err(KeysError::Refused(RetireRefused::AlreadyRetired(_)))
    ));
}

#[tokio::test]
async fn a_new_key_is_published_before_it_signs() {
    let app = TestApp::spawn().await;
    let old = kid_of(&machine_token(&app).await);
    let new = app.state.keys.rotate(None, false).await.unwrap();
    assert_eq!(new.activates_at, T0 + 3600, "default window: one hour");
    // Published at once…
    assert!(published_kids(&app).await.contains(&new.kid));
    // …used only from activates_at, to the second.
    app.clock.set(T0 + 3599);
    assert_eq!(kid_of(&machine_token(&app).await), old);
    assert!(published_kids(&app).await.contains(&old));
    app.clock.set(T0 + 3600);
    assert_eq!(kid_of(&machine_token(&app).await), new.kid);
    assert!(
        published_kids(&app).await.contains(&old),
        "kept for the tokens it signed"
    );
}

#[tokio::test]
async fn eddsa_and_rs256_rotations_sign_verifiable_tokens() {
    let app = TestApp::spawn().await;
    for (algorithm, jws, kty) in [
        (SigningAlgorithm::EdDsa, Algorithm::EdDSA, "OKP"),
        (SigningAlgorithm::Rs256, Algorithm::RS256, "RSA"),
        (SigningAlgorithm::Es256, Algorithm::ES256, "EC"),
    ] {
        let info = app.state.keys.rotate(Some(algorithm), true).await.unwrap();
        assert_eq!(info.algorithm, algorithm.as_str());
        let token = machine_token(&app).await;
        assert_eq!(header(&token).alg, jws, "{algorithm}");
        assert_eq!(kid_of(&token), info.kid);
        verify(&app, &token).await.unwrap();
        let set: serde_json::Value = app.jwks().await;
        let jwk = set["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == info.kid.as_str())
            .unwrap();
        assert_eq!(jwk["kty"], kty);
        assert_eq!(jwk["alg"], algorithm.as_str());
        assert_eq!(jwk["use"], "sig");
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(
                jwk.get(private).is_none(),
                "{algorithm} JWK has `{private}`"
            );
        }
    }
}

#[tokio::test]
async fn the_configured_algorithm_signs_from_the_first_key() {
    let app = TestApp::builder()
        .configure(|c| c.keys.algorithm = SigningAlgorithm::Rs256)
        .spawn()
        .await;
    let token = machine_token(&app).await;
    assert_eq!(header(&token).alg, Algorithm::RS256);
    verify(&app, &token).await.unwrap();
}

/// Every 16-byte chunk of `secret` that occurs in `haystack`.
fn chunks_found(secret: &[u8], haystack: &[u8]) -> usize {
    let chunks: HashSet<&[u8]> = secret.chunks_exact(16).collect();
    let found: HashSet<&[u8]> = haystack
        .windows(16)
        .filter(|w| chunks.contains(w))
        .collect();
    found.len()
}

fn database_bytes(app: &TestApp) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(app.data_dir()).unwrap() {
        let entry = entry.unwrap();
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with("tessera.db")
        {
            bytes.extend(std::fs::read(entry.path()).unwrap());
        }
    }
    bytes
}

#[tokio::test]
async fn private_keys_are_encrypted_at_rest() {
    let kek_bytes = [0x3c; 32];
    let kek = KeyEncryptionKey::from_bytes(kek_bytes);
    let app = TestApp::builder()
        .configure(|c| c.keys.encryption_key = Some(kek.clone()))
        .spawn()
        .await;
    app.state
        .keys
        .rotate(Some(SigningAlgorithm::EdDsa), true)
        .await
        .unwrap();
    app.state
        .keys
        .rotate(Some(SigningAlgorithm::Rs256), false)
        .await
        .unwrap();
    let published = jwks(&app).await;
    let stored = app.store.signing_keys().await.unwrap();
    // Three access-token keys and the three ID-token keys: all sealed.
    assert_eq!(stored.len(), 6);
    let files = database_bytes(&app);
    let logs = captured_logs();
    assert!(!logs.contains(&base64::engine::general_purpose::STANDARD.encode(kek_bytes)));
    for key in &stored {
        assert_eq!(key.encryption, "A256GCM");
        let der = kek.open(&key.kid, &key.private_key).unwrap();
        // It is the key that signs: its public half is the published one.
        let loaded =
            SigningKey::from_pkcs8(key.kid.clone(), key.algorithm.parse().unwrap(), &der).unwrap();
        let jwk = published.find(&key.kid).unwrap();
        assert_eq!(serde_json::to_value(jwk).unwrap(), *loaded.public_jwk());
        // No part of it is in the database files in clear.
        assert!(der.len() >= 48);
        assert_eq!(chunks_found(&der, &key.private_key), 0);
        assert_eq!(
            chunks_found(&der, &files),
            0,
            "{} key in clear",
            key.algorithm
        );
        for encoded in [
            base64::engine::general_purpose::STANDARD.encode(&der),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&der),
        ] {
            assert!(!logs.contains(&encoded[..40]));
        }
    }
    // The sealed key is bound to its row: under another kid it does not open.
    assert!(kek.open(&stored[1].kid, &stored[0].private_key).is_err());
}

#[tokio::test]
async fn development_mode_generates_and_keeps_the_encryption_key() {
    let app = TestApp::spawn().await;
    let stored = app.store.signing_keys().await.unwrap();
    // Reads the generated key (setting_or_init keeps what is there).
    let kept = app
        .store
        .setting_or_init(DEV_KEK_SETTING, &[0; 32])
        .await
        .unwrap();
    assert_eq!(kept.len(), 32);
    assert_ne!(kept, [0; 32]);
    let kek = KeyEncryptionKey::from_bytes(kept.try_into().unwrap());
    assert_eq!(stored[0].encryption, "A256GCM");
    let der = kek.open(&stored[0].kid, &stored[0].private_key).unwrap();
    assert_eq!(chunks_found(&der, &database_bytes(&app)), 0);
    // A restart finds the same key and the same signing key.
    let again = restart(&app, app.state.config.clone()).await.unwrap();
    assert_eq!(again.signing_key().kid(), app.state.signing_key().kid());
}

#[tokio::test]
async fn a_wrong_or_missing_encryption_key_refuses_to_start() {
    let app = TestApp::builder()
        .configure(|c| c.keys.encryption_key = Some(KeyEncryptionKey::from_bytes([1; 32])))
        .spawn()
        .await;
    let mut wrong = app.state.config.clone();
    wrong.keys.encryption_key = Some(KeyEncryptionKey::from_bytes([2; 32]));
    let refused = restart(&app, wrong.clone()).await.unwrap_err();
    assert!(
        matches!(
            &refused,
            InitError::Keys(KeysError::WrongEncryptionKey { .. })
        ),
        "{refused:?}"
    );
    assert!(
        refused
            .to_string()
            .contains("cannot be decrypted with the configured key_encryption_key")
    );

    // The CLI with the wrong key cannot add a key the server could not read.
    let cli = KeyManager::new(
        app.store.clone(),
        Arc::new(SystemRandomness),
        wrong.keys.clone(),
        wrong.mode(),
        wrong.lifetimes.access_token,
    );
    assert!(matches!(
        cli.rotate(None, true, T0).await,
        Err(KeysError::WrongEncryptionKey { .. })
    ));
    assert_eq!(access_token_keys(&app).await.len(), 1);

    // Keys made in development mode (under the generated key) do not open
    // under a configured one either.
    let dev = TestApp::spawn().await;
    let mut configured = dev.state.config.clone();
    configured.keys.encryption_key = Some(KeyEncryptionKey::from_bytes([1; 32]));
    assert!(matches!(
        restart(&dev, configured).await,
        Err(InitError::Keys(KeysError::WrongEncryptionKey { .. }))
    ));

    // Production mode needs a configured key.
    let production =
        tessera_authorization_server::ServerConfig::new("https://as.example", PHOTOS).unwrap();
    let refused = restart(&app, production).await.unwrap_err();
    assert!(matches!(
        &refused,
        InitError::Keys(KeysError::MissingEncryptionKey)
    ));
    assert!(refused.to_string().contains("TESSERA_KEY_ENCRYPTION_KEY"));
}

#[tokio::test]
async fn a_running_server_picks_up_keys_rotated_elsewhere() {
    let app = TestApp::spawn().await;
    let mut reloads = app.state.keys.reloads();
    reloads.borrow_and_update();
    let cli = other_process(&app).await;
    let new = cli
        .rotate(Some(SigningAlgorithm::EdDsa), true, T0)
        .await
        .unwrap();
    // The server works from its cached key set until its next reload.
    assert_ne!(kid_of(&machine_token(&app).await), new.kid);

    // A reload interval later, the next request wakes the background
    // reload (the answer itself does not wait for it).
    app.clock.advance(30);
    jwks(&app).await;
    tokio::time::timeout(Duration::from_secs(10), reloads.changed())
        .await
        .expect("the background task reloads")
        .unwrap();
    assert!(published_kids(&app).await.contains(&new.kid));
    let token = machine_token(&app).await;
    assert_eq!(kid_of(&token), new.kid);
    assert_eq!(header(&token).alg, Algorithm::EdDSA);
    verify(&app, &token).await.unwrap();
}

#[tokio::test]
async fn a_cached_successor_activating_triggers_a_reload() {
    // A reload interval too long to matter: only the successor's activation
    // can trigger the reload.
    let app = TestApp::builder()
        .configure(|c| c.keys.reload_interval_secs = 1_000_000)
        .spawn()
        .await;
    let cli = other_process(&app).await;
    let next = cli.rotate(None, false, T0).await.unwrap();
    app.state.keys.reload().await.unwrap();
    let mut reloads = app.state.keys.reloads();
    reloads.borrow_and_update();

    app.clock.set(next.activates_at - 1);
    machine_token(&app).await;
    assert!(!reloads.has_changed().unwrap(), "nothing due yet");
    app.clock.set(next.activates_at);
    // Signs with the successor at once, from the cache…
    assert_eq!(kid_of(&machine_token(&app).await), next.kid);
    // …and reloads to learn what else changed.
    tokio::time::timeout(Duration::from_secs(10), reloads.changed())
        .await
        .expect("the successor's activation wakes the reload")
        .unwrap();
}

#[tokio::test]
async fn scheduled_rotation_rotates_and_retires() {
    let app = TestApp::builder()
        .configure(|c| c.keys.rotation_interval_secs = Some(86_400))
        .spawn()
        .await;
    let first = app.state.signing_key().kid().to_owned();
    let states = || async {
        app.state
            .keys
            .manager()
            .list(app.clock.now())
            .await
            .unwrap()
            .into_iter()
            .filter(|k| k.purpose == "access_token")
            .map(|k| (k.kid, k.state))
            .collect::<Vec<_>>()
    };

    app.clock.set(T0 + 86_399);
    app.state.keys.maintain().await.unwrap();
    assert_eq!(states().await, [(first.clone(), KeyState::Active)]);

    app.clock.set(T0 + 86_400);
    app.state.keys.maintain().await.unwrap();
    let after = states().await;
    assert_eq!(after.len(), 2);
    let second = after[1].0.clone();
    assert_eq!(after[1].1, KeyState::Pending);
    assert!(published_kids(&app).await.contains(&second));
    // Not again while the new key waits for its activation.
    app.state.keys.maintain().await.unwrap();
    assert_eq!(states().await.len(), 2);

    app.clock.set(T0 + 86_400 + 3600);
    assert_eq!(kid_of(&machine_token(&app).await), second);
    // The first key stays until its last token (600 s) has expired, plus
    // the reload interval (30 s).
    app.clock.set(T0 + 86_400 + 3600 + 629);
    app.state.keys.maintain().await.unwrap();
    assert_eq!(
        states().await,
        [
            (first.clone(), KeyState::Superseded),
            (second.clone(), KeyState::Active)
        ]
    );
    app.clock.set(T0 + 86_400 + 3600 + 630);
    app.state.keys.maintain().await.unwrap();
    assert_eq!(
        states().await,
        [
            (first.clone(), KeyState::Retired),
            (second.clone(), KeyState::Active)
        ]
    );
    assert_eq!(published_kids(&app).await, [second]);
}

#[tokio::test]
async fn without_a_rotation_interval_nothing_rotates_by_itself() {
    let app = TestApp::spawn().await;
    app.clock.advance(400 * 86_400);
    app.state.keys.maintain().await.unwrap();
    assert_eq!(access_token_keys(&app).await.len(), 1);
}

#[tokio::test]
async fn retiring_is_refused_for_the_active_key_and_allowed_for_a_withdrawn_pending_one() {
    let app = TestApp::spawn().await;
    let active = app.state.signing_key().kid().to_owned();
    let refused = app.state.keys.retire(&active).await.unwrap_err();
    assert!(matches!(
        refused,
        KeysError::Refused(RetireRefused::StillActive(_))
    ));
    assert!(refused.to_string().contains("rotate first"), "{refused}");
    assert!(matches!(
        app.state.keys.retire("no-such-kid").await,
        Err(KeysError::NoSuchKey(_))
    ));

    // A pending key has signed nothing: it may be withdrawn, unless servers
    // that have not reloaded could already be signing with it.
    let pending = app.state.keys.rotate(None, false).await.unwrap();
    app.state.keys.retire(&pending.kid).await.unwrap();
    assert_eq!(published_kids(&app).await, std::slice::from_ref(&active));
    app.clock.set(pending.activates_at);
    assert_eq!(
        app.state.signing_key().kid(),
        active,
        "a withdrawn key never signs"
    );

    let soon = app.state.keys.rotate(None, false).await.unwrap();
    app.clock.set(soon.activates_at - 30);
    assert!(matches!(
        app.state.keys.retire(&soon.kid).await,
        Err(KeysError::Refused(RetireRefused::ActivatesSoon { .. }))
    ));
}

#[tokio::test]
async fn a_key_stored_in_clear_by_an_earlier_version_is_sealed_at_start() {
    let app = TestApp::spawn().await;
    tessera_core::jwt::install_crypto_provider();
    let (legacy, der) = SigningKey::generate("legacy".into(), SigningAlgorithm::Es256).unwrap();
    app.store
        .insert_signing_key(&StoredSigningKey {
            kid: "legacy".into(),
            algorithm: "ES256".into(),
            encryption: "none".into(),
            private_key: der.clone(),
            created_at: T0 - 100,
            activates_at: T0 - 100,
            retired_at: None,
            purpose: "access_token".into(),
        })
        .await
        .unwrap();

    let restarted = restart(&app, app.state.config.clone()).await.unwrap();
    assert!(restarted.public_jwks().contains(legacy.public_jwk()));
    let stored = app.store.signing_keys().await.unwrap();
    let sealed = stored.iter().find(|k| k.kid == "legacy").unwrap();
    assert_eq!(sealed.encryption, "A256GCM");
    assert_eq!(chunks_found(&der, &sealed.private_key), 0);
    let kek = app
        .store
        .setting_or_init(DEV_KEK_SETTING, &[0; 32])
        .await
        .unwrap();
    let kek = KeyEncryptionKey::from_bytes(kek.try_into().unwrap());
    assert_eq!(kek.open("legacy", &sealed.private_key).unwrap(), der);
}
