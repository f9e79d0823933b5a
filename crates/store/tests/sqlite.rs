//! The SQLite store against a real database file: single use holds under
//! concurrency, grants revoke their families, sessions rotate with their
//! pending requests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::Arc;

use tessera_core::authorize::{AuthorizationRequest, Prompt, TrustedRedirect};
use tessera_core::client::{Client, GrantType};
use tessera_core::grant::CodeGrant;
use tessera_core::scope::Scope;
use tessera_store::*;

async fn store() -> (tempfile::TempDir, Arc<SqliteStore>) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    (dir, Arc::new(SqliteStore::connect(&url).await.unwrap()))
}

fn scope(s: &str) -> Scope {
    Scope::parse(s).unwrap()
}

async fn seed_grant(store: &SqliteStore, code: &str) -> Grant {
    store
        .upsert_client(
            &Client {
                client_id: "c1".into(),
                name: "C1".into(),
                secret_hash: Some("h".into()),
                redirect_uris: vec!["https://c.example/cb".into()],
                scopes: scope("a b"),
                grant_types: BTreeSet::from([
                    GrantType::AuthorizationCode,
                    GrantType::RefreshToken,
                ]),
                require_pkce: true,
                introspect: false,
                resource: None,
                access_token_format: None,
                id_token_signed_response_alg: None,
                post_logout_redirect_uris: Vec::new(),
            },
            0,
        )
        .await
        .unwrap();
    let grant = Grant {
        grant_id: format!("g-{code}"),
        client_id: "c1".into(),
        user_id: "u1".into(),
        scope: scope("a b"),
        audience: "https://rs.example".into(),
        auth_time: 0,
        created_at: 0,
        revoked_at: None,
    };
    let code_grant = CodeGrant {
        grant_id: grant.grant_id.clone(),
        client_id: "c1".into(),
        user_id: "u1".into(),
        redirect_uri: "https://c.example/cb".into(),
        redirect_uri_explicit: true,
        scope: scope("a b"),
        audience: "https://rs.example".into(),
        code_challenge: None,
        nonce: None,
        auth_time: 0,
        issued_at: 0,
        expires_at: 60,
    };
    store
        .issue_code(&grant, &TokenHash::of(code), &code_grant)
        .await
        .unwrap();
    grant
}

#[tokio::test]
async fn twenty_concurrent_redemptions_consume_a_code_exactly_once() {
    let (_dir, store) = store().await;
    let grant = seed_grant(&store, "the-code").await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .consume_code(&TokenHash::of("the-code"), 10)
                .await
                .unwrap()
        }));
    }
    let mut consumed = 0;
    for t in tasks {
        match t.await.unwrap() {
            CodeConsumption::Consumed(c) => {
                consumed += 1;
                assert_eq!(c.grant_id, grant.grant_id);
            }
            CodeConsumption::AlreadyUsed { grant_id } => assert_eq!(grant_id, grant.grant_id),
            CodeConsumption::Unknown => panic!("the code exists"),
        }
    }
    assert_eq!(consumed, 1);
    assert_eq!(
        store
            .consume_code(&TokenHash::of("other"), 10)
            .await
            .unwrap(),
        CodeConsumption::Unknown
    );
}

fn access(jti: &str, grant: &Grant) -> AccessTokenRecord {
    AccessTokenRecord {
        jti: jti.into(),
        token_hash: None,
        grant_id: Some(grant.grant_id.clone()),
        client_id: "c1".into(),
        subject: "u1".into(),
        scope: scope("a"),
        audience: "https://rs.example".into(),
        auth_time: Some(0),
        issued_at: 0,
        expires_at: 600,
    }
}

fn refresh(grant: &Grant) -> NewRefreshToken {
    NewRefreshToken {
        grant_id: grant.grant_id.clone(),
        client_id: "c1".into(),
        issued_at: 0,
        idle_expires_at: 1000,
        absolute_expires_at: 2000,
    }
}

#[tokio::test]
async fn concurrent_rotations_of_one_refresh_token_succeed_once() {
    let (_dir, store) = store().await;
    let grant = seed_grant(&store, "code").await;
    let rt1 = TokenHash::of("rt1");
    store
        .issue_tokens(&access("j0", &grant), Some((&rt1, &refresh(&grant))))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..10 {
        let (store, grant, rt1) = (store.clone(), grant.clone(), rt1.clone());
        tasks.push(tokio::spawn(async move {
            store
                .rotate_refresh_token(
                    &rt1,
                    5,
                    &access(&format!("j{}", i + 1), &grant),
                    &TokenHash::of(&format!("rt2-{i}")),
                    &refresh(&grant),
                )
                .await
                .unwrap()
        }));
    }
    let mut wins = 0;
    for t in tasks {
        if t.await.unwrap() {
            wins += 1;
        }
    }
    assert_eq!(wins, 1);
    assert_eq!(
        store.refresh_token(&rt1).await.unwrap().unwrap().rotated_at,
        Some(5)
    );
}

#[tokio::test]
async fn revoking_a_grant_revokes_its_refresh_tokens_and_blocks_rotation() {
    let (_dir, store) = store().await;
    let grant = seed_grant(&store, "code").await;
    let rt = TokenHash::of("rt");
    store
        .issue_tokens(&access("j0", &grant), Some((&rt, &refresh(&grant))))
        .await
        .unwrap();
    store
        .revoke_grant(&grant.grant_id, 7, "test")
        .await
        .unwrap();
    assert_eq!(
        store
            .refresh_token(&rt)
            .await
            .unwrap()
            .unwrap()
            .grant_revoked_at,
        Some(7)
    );
    let rotated = store
        .rotate_refresh_token(
            &rt,
            8,
            &access("j1", &grant),
            &TokenHash::of("rt2"),
            &refresh(&grant),
        )
        .await
        .unwrap();
    assert!(!rotated, "a revoked family cannot rotate");
}

#[tokio::test]
async fn replacing_a_session_moves_its_pending_requests_and_kills_the_old_id() {
    let (_dir, store) = store().await;
    let old = Session {
        id_hash: TokenHash::of("s1"),
        csrf_token: "c".into(),
        user_id: None,
        auth_time: None,
        created_at: 0,
        expires_at: 100,
    };
    store.create_session(&old).await.unwrap();
    let request = AuthorizationRequest {
        client_id: "c1".into(),
        redirect: TrustedRedirect {
            uri: "https://c.example/cb".into(),
            explicit: true,
            state: Some("s".into()),
        },
        scope: scope("a"),
        resource: None,
        audience: "https://rs.example".into(),
        code_challenge: None,
        prompt: Prompt::default(),
        nonce: None,
        max_age: None,
        min_auth_time: None,
        login_hint: Some("alice".into()),
        id_token_hint: None,
    };
    store
        .save_authorization_request("r1", &old.id_hash, &request, 100)
        .await
        .unwrap();
    let new = Session {
        id_hash: TokenHash::of("s2"),
        csrf_token: "d".into(),
        ..old.clone()
    };
    store
        .replace_session(Some(&old.id_hash), &new)
        .await
        .unwrap();
    assert!(store.session(&old.id_hash, 1).await.unwrap().is_none());
    assert!(
        store
            .authorization_request("r1", &old.id_hash, 1)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .authorization_request("r1", &new.id_hash, 1)
            .await
            .unwrap(),
        Some(request)
    );
    assert!(
        store
            .authorization_request("r1", &new.id_hash, 100)
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    assert!(
        store
            .take_authorization_request("r1", &new.id_hash)
            .await
            .unwrap()
    );
    assert!(
        !store
            .take_authorization_request("r1", &new.id_hash)
            .await
            .unwrap(),
        "single use"
    );
}

#[tokio::test]
async fn settings_are_initialised_once() {
    let (_dir, store) = store().await;
    assert_eq!(
        store.setting_or_init("k", b"first").await.unwrap(),
        b"first"
    );
    assert_eq!(
        store.setting_or_init("k", b"second").await.unwrap(),
        b"first"
    );
}

#[tokio::test]
async fn signing_keys_written_before_migration_0003_are_kept_and_flagged_clear() {
    use sqlx::migrate::Migrator;
    use sqlx::sqlite::SqliteConnectOptions;
    use std::str::FromStr as _;

    // A database as the first release left it: only migration 0001 applied,
    // one key in clear.
    let dir = tempfile::tempdir().unwrap();
    let first_only = dir.path().join("migrations");
    std::fs::create_dir(&first_only).unwrap();
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/migrations/sqlite/0001_initial.sql"
        ),
        first_only.join("0001_initial.sql"),
    )
    .unwrap();
    let url = format!("sqlite://{}", dir.path().join("old.db").display());
    let options = SqliteConnectOptions::from_str(&url)
        .unwrap()
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    Migrator::new(first_only.as_path())
        .await
        .unwrap()
        .run(&pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO signing_keys (kid, algorithm, private_pkcs8, created_at) VALUES ('old', 'ES256', x'308187', 1000)",
    )
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    let store = SqliteStore::connect(&url).await.unwrap();
    let legacy = StoredSigningKey {
        kid: "old".into(),
        algorithm: "ES256".into(),
        encryption: "none".into(),
        private_key: vec![0x30, 0x81, 0x87],
        created_at: 1000,
        activates_at: 1000,
        retired_at: None,
        purpose: "access_token".into(),
    };
    assert_eq!(
        store.signing_keys().await.unwrap(),
        std::slice::from_ref(&legacy)
    );

    // Sealing replaces a key in clear, once.
    assert!(
        store
            .seal_signing_key("old", "A256GCM", b"sealed")
            .await
            .unwrap()
    );
    assert!(
        !store
            .seal_signing_key("old", "A256GCM", b"again")
            .await
            .unwrap()
    );
    let sealed = StoredSigningKey {
        encryption: "A256GCM".into(),
        private_key: b"sealed".to_vec(),
        ..legacy
    };
    assert_eq!(
        store.signing_keys().await.unwrap(),
        std::slice::from_ref(&sealed)
    );

    // Listed in insertion order, whatever the times say.
    let newer = StoredSigningKey {
        kid: "new".into(),
        created_at: 500,
        activates_at: 500,
        ..sealed.clone()
    };
    store.insert_signing_key(&newer).await.unwrap();
    let kids: Vec<String> = store
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids, ["old", "new"]);

    // Retiring happens once.
    assert!(store.retire_signing_key("old", 2000).await.unwrap());
    assert!(!store.retire_signing_key("old", 3000).await.unwrap());
    assert!(!store.retire_signing_key("nope", 3000).await.unwrap());
    assert_eq!(
        store.signing_keys().await.unwrap()[0].retired_at,
        Some(2000)
    );
}

/// Migration 0004: user claims, the client's ID-token algorithm and logout
/// URIs, and the purpose of signing keys round-trip.
#[tokio::test]
async fn openid_connect_fields_round_trip() {
    use tessera_core::jwt::SigningAlgorithm;
    use tessera_core::user_claims::UserClaims;

    let (_dir, store) = store().await;
    let user = User {
        user_id: "u1".into(),
        username: "alice".into(),
        password_hash: "$argon2id$x".into(),
        created_at: 0,
        claims: UserClaims::default(),
    };
    store.create_user(&user).await.unwrap();
    let claims = UserClaims {
        name: Some("Alice".into()),
        email: Some("alice@example.com".into()),
        email_verified: Some(true),
        ..UserClaims::default()
    };
    assert!(store.set_user_claims("alice", &claims).await.unwrap());
    assert!(!store.set_user_claims("nobody", &claims).await.unwrap());
    assert_eq!(store.user("u1").await.unwrap().unwrap().claims, claims);

    let client = Client {
        client_id: "rp".into(),
        name: "RP".into(),
        secret_hash: Some("h".into()),
        redirect_uris: vec!["https://rp.example/cb".into()],
        scopes: scope("a"),
        grant_types: BTreeSet::from([GrantType::AuthorizationCode]),
        require_pkce: true,
        introspect: false,
        resource: None,
        access_token_format: None,
        id_token_signed_response_alg: Some(SigningAlgorithm::EdDsa),
        post_logout_redirect_uris: vec!["https://rp.example/bye".into()],
    };
    store.upsert_client(&client, 0).await.unwrap();
    assert_eq!(store.client("rp").await.unwrap().unwrap(), client);

    let key = StoredSigningKey {
        kid: "k".into(),
        algorithm: "RS256".into(),
        encryption: "A256GCM".into(),
        private_key: vec![1, 2, 3],
        created_at: 0,
        activates_at: 0,
        retired_at: None,
        purpose: PURPOSE_ID_TOKEN.into(),
    };
    store.insert_signing_key(&key).await.unwrap();
    assert_eq!(store.signing_keys().await.unwrap(), vec![key]);
}
