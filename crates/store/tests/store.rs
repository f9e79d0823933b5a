//! One store test suite, run against both backends: every test function
//! below takes an `Arc<dyn Store>` and `store_tests!` instantiates it once in
//! `mod sqlite` (a fresh database file) and once in `mod postgres` (a fresh
//! schema in the database named by `TESSERA_TEST_POSTGRES_URL`, so the
//! tests run in parallel). Without that variable the PostgreSQL tests say
//! so and pass; with it, an unreachable database fails them.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Deadlines and unique names in tests come from the real clock.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeSet;
use std::sync::Arc;

use tessera_core::UnixTime;
use tessera_core::authorize::{AuthorizationRequest, Prompt, TrustedRedirect};
use tessera_core::client::{Client, GrantType};
use tessera_core::grant::CodeGrant;
use tessera_core::scope::Scope;
use tessera_store::*;

mod backends;

/// Instantiates each named test function for both backends.
macro_rules! store_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = crate::backends::Sqlite::new().await;
                    super::$name(db.store.clone()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(db) = crate::backends::Postgres::new(stringify!($name)).await else {
                        return;
                    };
                    super::$name(db.store.clone()).await;
                    db.drop_schema().await;
                }
            )*
        }
    };
}

store_tests!(
    twenty_concurrent_redemptions_consume_a_code_exactly_once,
    ten_concurrent_rotations_of_one_refresh_token_succeed_once,
    revoking_a_grant_revokes_its_refresh_tokens_and_blocks_rotation,
    replacing_a_session_moves_its_pending_requests_and_kills_the_old_id,
    settings_are_initialised_once,
    signing_keys_keep_insertion_order_and_seal_and_retire_once,
    users_are_unique_and_deleting_a_client_revokes_its_grants,
    a_retry_copy_is_served_in_its_window_until_the_child_is_used,
    housekeeping_removes_expired_rows_in_batches_and_keeps_live_ones,
    openid_connect_fields_round_trip,
    deletions_revoke_at_the_time_given_not_the_database_clock,
    issue13_failed_logins_count_atomically_expire_and_clear,
    issue13_item4_the_audit_trail_is_searched_and_purged_by_age,
);

fn scope(s: &str) -> Scope {
    Scope::parse(s).unwrap()
}

async fn seed_grant(store: &dyn Store, code: &str) -> Grant {
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

async fn twenty_concurrent_redemptions_consume_a_code_exactly_once(store: Arc<dyn Store>) {
    let grant = seed_grant(store.as_ref(), "the-code").await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .consume_code(&TokenHash::of("the-code"), "c1", 10)
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
            CodeConsumption::Unknown | CodeConsumption::OtherClient => {
                panic!("the code exists, for this client")
            }
        }
    }
    assert_eq!(consumed, 1);
    // Issue 13: another client's attempt neither consumes nor reports reuse.
    let fresh = seed_grant(store.as_ref(), "fresh-code").await;
    assert_eq!(
        store
            .consume_code(&TokenHash::of("fresh-code"), "c2", 10)
            .await
            .unwrap(),
        CodeConsumption::OtherClient
    );
    assert_eq!(
        store
            .consume_code(&TokenHash::of("the-code"), "c2", 10)
            .await
            .unwrap(),
        CodeConsumption::OtherClient,
        "a used code of c1 is not c2's reuse"
    );
    match store
        .consume_code(&TokenHash::of("fresh-code"), "c1", 10)
        .await
        .unwrap()
    {
        CodeConsumption::Consumed(c) => assert_eq!(c.grant_id, fresh.grant_id),
        other => panic!("the code's own client consumes it: {other:?}"),
    }
    assert_eq!(
        store
            .consume_code(&TokenHash::of("other"), "c1", 10)
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

async fn ten_concurrent_rotations_of_one_refresh_token_succeed_once(store: Arc<dyn Store>) {
    let grant = seed_grant(store.as_ref(), "code").await;
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
                    None,
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

async fn revoking_a_grant_revokes_its_refresh_tokens_and_blocks_rotation(store: Arc<dyn Store>) {
    let grant = seed_grant(store.as_ref(), "code").await;
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
            None,
        )
        .await
        .unwrap();
    assert!(!rotated, "a revoked family cannot rotate");
}

async fn replacing_a_session_moves_its_pending_requests_and_kills_the_old_id(
    store: Arc<dyn Store>,
) {
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
        min_auth_time: Some(40),
        // Kept through the round trip: it is what makes prompt=login refuse
        // the login of the session the request arrived in.
        refused_session: Some(TokenHash::of("s1").as_str().to_owned()),
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

async fn settings_are_initialised_once(store: Arc<dyn Store>) {
    assert_eq!(
        store.setting_or_init("k", b"first").await.unwrap(),
        b"first"
    );
    assert_eq!(
        store.setting_or_init("k", b"second").await.unwrap(),
        b"first"
    );
}

async fn signing_keys_keep_insertion_order_and_seal_and_retire_once(store: Arc<dyn Store>) {
    let first = StoredSigningKey {
        kid: "first".into(),
        algorithm: "ES256".into(),
        encryption: "none".into(),
        private_key: vec![0x30, 0x81, 0x87],
        created_at: 1000,
        activates_at: 1000,
        retired_at: None,
        purpose: "access_token".into(),
    };
    store.insert_signing_key(&first).await.unwrap();
    // Listed in insertion order, whatever the times say.
    let second = StoredSigningKey {
        kid: "second".into(),
        encryption: "A256GCM".into(),
        created_at: 500,
        activates_at: 500,
        ..first.clone()
    };
    store.insert_signing_key(&second).await.unwrap();
    let kids: Vec<String> = store
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids, ["first", "second"]);

    // Sealing replaces a key in clear, once.
    assert!(
        store
            .seal_signing_key("first", "A256GCM", b"sealed")
            .await
            .unwrap()
    );
    assert!(
        !store
            .seal_signing_key("first", "A256GCM", b"again")
            .await
            .unwrap()
    );
    assert!(
        !store
            .seal_signing_key("second", "A256GCM", b"x")
            .await
            .unwrap()
    );
    let keys = store.signing_keys().await.unwrap();
    assert_eq!(keys[0].private_key, b"sealed");
    assert_eq!(keys[0].encryption, "A256GCM");
    assert_eq!(keys[1], second);

    // Retiring happens once.
    assert!(store.retire_signing_key("first", 2000).await.unwrap());
    assert!(!store.retire_signing_key("first", 3000).await.unwrap());
    assert!(!store.retire_signing_key("nope", 3000).await.unwrap());
    assert_eq!(
        store.signing_keys().await.unwrap()[0].retired_at,
        Some(2000)
    );
}

async fn users_are_unique_and_deleting_a_client_revokes_its_grants(store: Arc<dyn Store>) {
    let alice = User {
        user_id: "u1".into(),
        username: "alice".into(),
        password_hash: "$argon2id$x".into(),
        created_at: 0,
        claims: Default::default(),
    };
    store.create_user(&alice).await.unwrap();
    let again = User {
        user_id: "u2".into(),
        ..alice.clone()
    };
    assert!(matches!(
        store.create_user(&again).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.user_by_username("alice").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(store.user("u1").await.unwrap(), Some(alice));

    let grant = seed_grant(store.as_ref(), "code").await;
    store
        .issue_tokens(&access("j0", &grant), None)
        .await
        .unwrap();
    assert!(store.delete_client("c1", 11).await.unwrap());
    assert!(!store.delete_client("c1", 12).await.unwrap());
    assert!(store.client("c1").await.unwrap().is_none());
    let g = store.grant(&grant.grant_id).await.unwrap().unwrap();
    assert!(g.revoked_at.is_some(), "the client's grants end with it");
    let at = store.access_token_by_jti("j0").await.unwrap().unwrap();
    assert!(at.grant_revoked_at.is_some());

    assert!(store.set_password("alice", "$argon2id$y", 9).await.unwrap());
    assert!(
        !store
            .set_password("nobody", "$argon2id$y", 9)
            .await
            .unwrap()
    );
    assert!(store.delete_user("alice", 13).await.unwrap());
    assert!(store.user_by_username("alice").await.unwrap().is_none());
}

async fn a_retry_copy_is_served_in_its_window_until_the_child_is_used(store: Arc<dyn Store>) {
    let grant = seed_grant(store.as_ref(), "code").await;
    let (rt1, rt2, rt3) = (
        TokenHash::of("rt1"),
        TokenHash::of("rt2"),
        TokenHash::of("rt3"),
    );
    store
        .issue_tokens(&access("j0", &grant), Some((&rt1, &refresh(&grant))))
        .await
        .unwrap();
    assert_eq!(
        store.refresh_retry(&rt1, 5).await.unwrap(),
        None,
        "not rotated"
    );
    let copy = RefreshRetry {
        until: 15,
        sealed: b"sealed pair".to_vec(),
    };
    assert!(
        store
            .rotate_refresh_token(
                &rt1,
                5,
                &access("j1", &grant),
                &rt2,
                &refresh(&grant),
                Some(&copy)
            )
            .await
            .unwrap()
    );
    assert_eq!(
        store.refresh_retry(&rt1, 14).await.unwrap(),
        Some(copy.sealed.clone())
    );
    assert_eq!(
        store.refresh_retry(&rt1, 15).await.unwrap(),
        None,
        "window passed"
    );
    assert_eq!(
        store.refresh_retry(&rt2, 14).await.unwrap(),
        None,
        "rt2 not rotated"
    );

    // Using the child wipes the copy.
    assert!(
        store
            .rotate_refresh_token(&rt2, 6, &access("j2", &grant), &rt3, &refresh(&grant), None)
            .await
            .unwrap()
    );
    assert_eq!(
        store.refresh_retry(&rt1, 7).await.unwrap(),
        None,
        "child used"
    );

    // A revoked family serves no copy either.
    let grant2 = seed_grant(store.as_ref(), "code2").await;
    let (a, b) = (TokenHash::of("a"), TokenHash::of("b"));
    store
        .issue_tokens(&access("k0", &grant2), Some((&a, &refresh(&grant2))))
        .await
        .unwrap();
    store
        .rotate_refresh_token(
            &a,
            5,
            &access("k1", &grant2),
            &b,
            &refresh(&grant2),
            Some(&copy),
        )
        .await
        .unwrap();
    assert!(store.refresh_retry(&a, 6).await.unwrap().is_some());
    store
        .revoke_grant(&grant2.grant_id, 6, "test")
        .await
        .unwrap();
    assert_eq!(store.refresh_retry(&a, 7).await.unwrap(), None, "revoked");
}

async fn housekeeping_removes_expired_rows_in_batches_and_keeps_live_ones(store: Arc<dyn Store>) {
    // Codes: each seeded one expires at 60.
    let grant = seed_grant(store.as_ref(), "code-0").await;
    for i in 0..5 {
        let g = seed_grant(store.as_ref(), &format!("dead-code-{i}")).await;
        assert_eq!(g.grant_id, format!("g-dead-code-{i}"));
    }
    // Refresh tokens: idle expiry 1000 (dead at 1000), one alive longer.
    for i in 0..3 {
        store
            .issue_tokens(
                &access(&format!("dead-at-{i}"), &grant),
                Some((&TokenHash::of(&format!("dead-rt-{i}")), &refresh(&grant))),
            )
            .await
            .unwrap();
    }
    let live_rt = TokenHash::of("live-rt");
    let mut long = refresh(&grant);
    long.idle_expires_at = 5000;
    long.absolute_expires_at = 6000;
    let mut live_at = access("live-at", &grant);
    live_at.expires_at = 5000;
    store
        .issue_tokens(&live_at, Some((&live_rt, &long)))
        .await
        .unwrap();
    store.revoke_access_token("dead-at-0", 10).await.unwrap();
    for (id, expires_at) in [("dead-s", 1000), ("live-s", 5000)] {
        store
            .create_session(&Session {
                id_hash: TokenHash::of(id),
                csrf_token: "c".into(),
                user_id: None,
                auth_time: None,
                created_at: 0,
                expires_at,
            })
            .await
            .unwrap();
    }
    // A retry copy whose window has passed, on a live token.
    let child = TokenHash::of("live-child");
    store
        .rotate_refresh_token(
            &live_rt,
            20,
            &access("child-at", &grant),
            &child,
            &long,
            Some(&RefreshRetry {
                until: 30,
                sealed: b"x".to_vec(),
            }),
        )
        .await
        .unwrap();

    let mut now_live = store.purge_expired(1000, 2).await.unwrap().unwrap();
    // The code of each seeded grant expires at 60: all six are dead at 1000.
    assert_eq!(now_live.codes, 6);
    assert_eq!(now_live.refresh_tokens, 3);
    // dead-at-0..2 (one of them on the deny list) and child-at, all expiring at 600.
    assert_eq!(now_live.access_tokens, 4);
    assert_eq!(now_live.sessions, 1);
    assert_eq!(now_live.retry_copies, 1);
    assert!(
        store
            .access_token_by_jti("dead-at-0")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .access_token_by_jti("live-at")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .access_token_by_jti("child-at")
            .await
            .unwrap()
            .is_none(),
        "expired at 600"
    );
    assert!(
        store
            .refresh_token(&TokenHash::of("dead-rt-0"))
            .await
            .unwrap()
            .is_none()
    );
    let kept = store.refresh_token(&live_rt).await.unwrap().unwrap();
    assert_eq!(
        kept.rotated_at,
        Some(20),
        "rotated, live: kept for reuse detection"
    );
    assert!(store.refresh_token(&child).await.unwrap().is_some());
    assert!(
        store
            .session(&TokenHash::of("live-s"), 1000)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store
            .consume_code(&TokenHash::of("dead-code-0"), "c1", 1000)
            .await
            .unwrap(),
        CodeConsumption::Unknown
    );
    // Nothing left to do.
    now_live = store.purge_expired(1000, 2).await.unwrap().unwrap();
    assert_eq!(now_live.total(), 0);
}

/// Backend-specific tests: upgrades from old SQLite databases, and the
/// placeholder style the shared statements rely on.
mod sqlite_only {
    use super::*;

    /// The statements are written once with PostgreSQL's `$n`: sqlx's SQLite
    /// driver must bind `$n` to the n-th argument, whatever the order the
    /// placeholders appear in and however often.
    #[tokio::test]
    async fn dollar_placeholders_bind_by_number() {
        let pool = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
        let (a, b): (i64, i64) = sqlx::query_as("SELECT $2 - $1, $1 * $2 + $1")
            .bind(3_i64)
            .bind(10_i64)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!((a, b), (7, 33));
        pool.close().await;
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
}

/// A database another release has migrated further is refused; so is one
/// that lacks migrations when asked not to migrate.
mod schema_versions {
    use super::*;

    #[tokio::test]
    async fn sqlite_refuses_a_newer_schema_and_with_verify_an_older_one() {
        let db = backends::Sqlite::new().await;
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (9999, 'from the future', 1, x'00', 0)",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
        for mode in [Migrations::Apply, Migrations::Verify] {
            match SqliteStore::open(&db.url, mode).await {
                Err(StoreError::SchemaNewer(v)) => assert_eq!(v, [9999]),
                other => panic!("expected SchemaNewer, got {other:?}"),
            }
        }

        let fresh = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", fresh.path().join("new.db").display());
        match SqliteStore::open(&url, Migrations::Verify).await {
            Err(e @ StoreError::SchemaOlder(_)) => {
                assert!(e.to_string().contains("tessera migrate"), "{e}");
            }
            other => panic!("expected SchemaOlder, got {other:?}"),
        }
        let untouched = sqlx::SqlitePool::connect(&url).await.unwrap();
        let tables: i64 =
            sqlx::query_scalar("SELECT count(*) FROM sqlite_master WHERE type = 'table'")
                .fetch_one(&untouched)
                .await
                .unwrap();
        assert_eq!(tables, 0, "verifying writes nothing");
        untouched.close().await;
        SqliteStore::open(&url, Migrations::Apply).await.unwrap();
        SqliteStore::open(&url, Migrations::Verify).await.unwrap();
    }

    #[tokio::test]
    async fn postgres_refuses_a_newer_schema_and_with_verify_an_older_one() {
        let Some(url) = backends::postgres_url() else {
            return;
        };
        let schema = backends::unique_schema("versions");
        let mut options = backends::options(&url, &schema);
        options.migrations = Migrations::Verify;
        match PostgresStore::connect(&options).await {
            Err(e @ StoreError::SchemaOlder(_)) => {
                assert!(e.to_string().contains("tessera migrate"), "{e}");
            }
            other => panic!("expected SchemaOlder, got {other:?}"),
        }
        options.migrations = Migrations::Apply;
        let pg = PostgresStore::connect(&options).await.unwrap();
        options.migrations = Migrations::Verify;
        PostgresStore::connect(&options).await.unwrap();

        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (9999, 'from the future', TRUE, '\\x00', 0)",
        )
        .execute(pg.pool())
        .await
        .unwrap();
        for mode in [Migrations::Apply, Migrations::Verify] {
            options.migrations = mode;
            match PostgresStore::connect(&options).await {
                Err(StoreError::SchemaNewer(v)) => assert_eq!(v, [9999]),
                other => panic!("expected SchemaNewer, got {other:?}"),
            }
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA \"{schema}\" CASCADE"
        )))
        .execute(pg.pool())
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn postgres_housekeeping_runs_on_one_node_at_a_time() {
        let Some(db) = backends::Postgres::new("housekeeping_lock").await else {
            return;
        };
        let mut other_node = db.pg.pool().acquire().await.unwrap();
        // Another node of this deployment (same schema) holds the lock.
        let locked: bool = sqlx::query_scalar(
            "SELECT pg_try_advisory_lock(hashtextextended('tessera housekeeping ' || current_schema(), 0))",
        )
        .fetch_one(&mut *other_node)
        .await
        .unwrap();
        assert!(locked);
        assert_eq!(
            db.store.purge_expired(10, 100).await.unwrap(),
            None,
            "skipped"
        );
        sqlx::query(
            "SELECT pg_advisory_unlock(hashtextextended('tessera housekeeping ' || current_schema(), 0))",
        )
            .execute(&mut *other_node)
            .await
            .unwrap();
        drop(other_node);
        assert!(db.store.purge_expired(10, 100).await.unwrap().is_some());

        // The purge runs on the connection holding the lock: a pool of one
        // is enough.
        let url = backends::postgres_url().unwrap();
        let one = PostgresStore::connect(&PostgresOptions {
            max_connections: 1,
            acquire_timeout: std::time::Duration::from_secs(2),
            ..backends::options(&url, &db.schema)
        })
        .await
        .unwrap();
        assert!(one.purge_expired(10, 100).await.unwrap().is_some());
        one.pool().close().await;
        db.drop_schema().await;
    }

    #[tokio::test]
    async fn postgres_statement_timeout_cancels_a_slow_statement() {
        let Some(url) = backends::postgres_url() else {
            return;
        };
        let schema = backends::unique_schema("timeout");
        let pg = PostgresStore::connect(&PostgresOptions {
            statement_timeout: std::time::Duration::from_millis(200),
            ..backends::options(&url, &schema)
        })
        .await
        .unwrap();
        let slow = sqlx::query("SELECT pg_sleep(2)").execute(pg.pool()).await;
        match slow {
            Err(sqlx::Error::Database(e)) => {
                assert_eq!(e.code().as_deref(), Some("57014"), "query_canceled: {e}")
            }
            other => panic!("expected a cancelled statement, got {other:?}"),
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA \"{schema}\" CASCADE"
        )))
        .execute(pg.pool())
        .await
        .unwrap();
    }

    /// Needs no PostgreSQL: nothing listens on the port.
    #[tokio::test]
    async fn postgres_unreachable_fails_after_the_configured_attempts() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let options = PostgresOptions {
            connect_attempts: 3,
            connect_retry_delay: std::time::Duration::from_millis(200),
            ..PostgresOptions::new(format!(
                "postgres://tessera:hunter2-secret@127.0.0.1:{port}/nothing"
            ))
        };
        let started = std::time::Instant::now();
        let err = PostgresStore::connect(&options).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Unreachable { attempts: 3, .. }),
            "{err:?}"
        );
        assert!(
            started.elapsed() >= std::time::Duration::from_millis(400),
            "two pauses"
        );
        let text = err.to_string();
        assert!(text.contains("3 attempt"), "{text}");
        assert!(!text.contains("hunter2"), "no password in errors: {text}");
    }
}

/// OpenID Connect (SQLite migration 0004, PostgreSQL 0003): user claims, the
/// client's ID-token algorithm and logout URIs, and the purpose of signing
/// keys round-trip.
async fn openid_connect_fields_round_trip(store: Arc<dyn Store>) {
    use tessera_core::jwt::SigningAlgorithm;
    use tessera_core::user_claims::UserClaims;

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

/// Deleting a client or a user revokes at the `now` the caller gives: a
/// time decades from the wall clock shows the database's clock is not read.
async fn deletions_revoke_at_the_time_given_not_the_database_clock(store: Arc<dyn Store>) {
    const CLIENT_GONE: UnixTime = 1_000;
    const USER_GONE: UnixTime = 4_000_000_000;
    let grant = seed_grant(store.as_ref(), "code").await;
    store
        .issue_tokens(&access("by-grant", &grant), None)
        .await
        .unwrap();
    // A client-credentials token: no grant, revoked by itself.
    let own = AccessTokenRecord {
        grant_id: None,
        subject: "c1".into(),
        auth_time: None,
        ..access("own", &grant)
    };
    store.issue_tokens(&own, None).await.unwrap();
    assert!(store.delete_client("c1", CLIENT_GONE).await.unwrap());
    assert_eq!(
        store
            .grant(&grant.grant_id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(CLIENT_GONE)
    );
    let by_grant = store
        .access_token_by_jti("by-grant")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_grant.grant_revoked_at, Some(CLIENT_GONE));
    let own = store.access_token_by_jti("own").await.unwrap().unwrap();
    assert_eq!(own.revoked_at, Some(CLIENT_GONE));

    store
        .create_user(&User {
            user_id: "u1".into(),
            username: "alice".into(),
            password_hash: "$argon2id$x".into(),
            created_at: 0,
            claims: Default::default(),
        })
        .await
        .unwrap();
    let live = seed_grant(store.as_ref(), "code2").await;
    assert!(store.delete_user("alice", USER_GONE).await.unwrap());
    assert_eq!(
        store
            .grant(&live.grant_id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(USER_GONE)
    );
    // Already revoked with the client: the first revocation stands.
    assert_eq!(
        store
            .grant(&grant.grant_id)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(CLIENT_GONE)
    );
}

/// `Gated` (feature `test-util`) asks its gate before every call, by the
/// method's name, and a refused call never reaches the inner store.
mod gated {
    use super::*;
    use std::sync::Mutex;

    struct RefuseConsume(Mutex<Vec<&'static str>>);

    impl Gate for RefuseConsume {
        fn check(&self, method: &'static str) -> StoreResult<()> {
            self.0.lock().unwrap().push(method);
            match method {
                "consume_code" => Err(StoreError::Corrupt("injected failure".into())),
                _ => Ok(()),
            }
        }
    }

    #[tokio::test]
    async fn every_call_passes_the_gate_first() {
        let db = backends::Sqlite::new().await;
        let gate = Arc::new(RefuseConsume(Mutex::new(Vec::new())));
        let store = Gated::new(db.store.clone(), gate.clone());
        let grant = seed_grant(&store, "code").await;
        assert!(matches!(
            store.consume_code(&TokenHash::of("code"), "c1", 1).await,
            Err(StoreError::Corrupt(_))
        ));
        assert_eq!(
            *gate.0.lock().unwrap(),
            ["upsert_client", "issue_code", "consume_code"]
        );
        // The refused call left the code unused.
        match db.store.consume_code(&TokenHash::of("code"), "c1", 1).await {
            Ok(CodeConsumption::Consumed(c)) => assert_eq!(c.grant_id, grant.grant_id),
            other => panic!("expected the code unused, got {other:?}"),
        }
    }
}

/// Issue 13 (login throttling, shared across nodes): twenty concurrent
/// failures under one key all count; a count stops counting at its
/// `expires_at` and the next failure starts again at one; a successful
/// login clears it; housekeeping removes expired counts only.
async fn issue13_failed_logins_count_atomically_expire_and_clear(store: Arc<dyn Store>) {
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .record_login_failure("account:x", 100, 200)
                .await
                .unwrap()
                .failures
        }));
    }
    let mut counts = BTreeSet::new();
    for t in tasks {
        counts.insert(t.await.unwrap());
    }
    assert_eq!(counts, (1..=20).collect(), "each failure counted once");
    let now = store
        .login_failures("account:x", 150)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        now,
        LoginFailures {
            failures: 20,
            last_failure_at: 100,
            expires_at: 200
        }
    );
    // A later failure moves the window on; an earlier `now` (another node's
    // clock) never moves `last_failure_at` back.
    let later = store
        .record_login_failure("account:x", 190, 290)
        .await
        .unwrap();
    assert_eq!((later.failures, later.expires_at), (21, 290));
    let skewed = store
        .record_login_failure("account:x", 185, 285)
        .await
        .unwrap();
    assert_eq!(
        (skewed.failures, skewed.last_failure_at, skewed.expires_at),
        (22, 190, 290)
    );
    assert!(
        store
            .login_failures("account:x", 290)
            .await
            .unwrap()
            .is_none()
    );
    let fresh = store
        .record_login_failure("account:x", 300, 400)
        .await
        .unwrap();
    assert_eq!(fresh.failures, 1, "an expired count starts again");

    store
        .record_login_failure("address:y", 300, 350)
        .await
        .unwrap();
    store.clear_login_failures("account:x").await.unwrap();
    assert!(
        store
            .login_failures("account:x", 301)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .login_failures("address:y", 301)
            .await
            .unwrap()
            .is_some()
    );
    store
        .record_login_failure("account:z", 300, 500)
        .await
        .unwrap();
    let purged = store.purge_expired(350, 10).await.unwrap().unwrap();
    assert_eq!(purged.login_failures, 1);
    assert!(
        store
            .login_failures("account:z", 351)
            .await
            .unwrap()
            .is_some()
    );
}

/// Issue 13 item 4: the audit trail keeps source and outcome, is searched by
/// user, client, kind, time and position, newest first, and housekeeping
/// removes only events older than the retention, in batches.
async fn issue13_item4_the_audit_trail_is_searched_and_purged_by_age(store: Arc<dyn Store>) {
    let event = |at: i64, kind: &str, user: Option<&str>, client: Option<&str>| SecurityEvent {
        id: None,
        at,
        kind: kind.into(),
        client_id: client.map(str::to_owned),
        user_id: user.map(str::to_owned),
        grant_id: None,
        detail: format!("{kind} at {at}"),
        source: Some("192.0.2.7".into()),
        outcome: if kind == "login_failed" {
            "failure"
        } else {
            "success"
        }
        .into(),
    };
    for (at, kind, user, client) in [
        (100, "login_failed", Some("u-alice"), Some("c1")),
        (200, "login_succeeded", Some("u-alice"), Some("c1")),
        (300, "code_redeemed", Some("u-alice"), Some("c2")),
        (400, "login_succeeded", Some("u-bob"), Some("c1")),
        (500, "client_registered", None, Some("c3")),
    ] {
        store
            .record_security_event(&event(at, kind, user, client))
            .await
            .unwrap();
    }
    let search = |q: EventQuery| {
        let store = store.clone();
        async move {
            store
                .search_security_events(&EventQuery { limit: 100, ..q })
                .await
                .unwrap()
                .into_iter()
                .map(|e| e.at)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        search(EventQuery::default()).await,
        [500, 400, 300, 200, 100]
    );
    let alice = EventQuery {
        user_id: Some("u-alice".into()),
        ..EventQuery::default()
    };
    assert_eq!(search(alice.clone()).await, [300, 200, 100]);
    assert_eq!(
        search(EventQuery {
            client_id: Some("c1".into()),
            ..alice.clone()
        })
        .await,
        [200, 100]
    );
    assert_eq!(
        search(EventQuery {
            kind: Some("login_succeeded".into()),
            since: Some(250),
            ..EventQuery::default()
        })
        .await,
        [400]
    );
    let all = store
        .search_security_events(&EventQuery {
            limit: 2,
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 2, "the limit holds");
    let newest = all[0].id.unwrap();
    assert_eq!(all[0].source.as_deref(), Some("192.0.2.7"));
    assert_eq!(all[0].outcome, "success");
    assert!(
        search(EventQuery {
            after_id: Some(newest),
            ..EventQuery::default()
        })
        .await
        .is_empty(),
        "nothing after the newest"
    );
    // Retention: everything before 300 goes, in batches of one.
    assert_eq!(store.purge_security_events(300, 1).await.unwrap(), 2);
    assert_eq!(search(EventQuery::default()).await, [500, 400, 300]);
    assert_eq!(store.purge_security_events(300, 1).await.unwrap(), 0);
}
