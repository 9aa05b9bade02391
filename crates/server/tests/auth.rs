//! Authentication through the HTTP API: login, refresh rotation and reuse detection,
//! logout, invites, deactivation.

mod common;

use axum::http::{Method, StatusCode};
use common::{Backend, TestApp};
use serde_json::json;
use server::demo::DEMO_PASSWORD;
use sqlx::{Connection, Row};

both_backends!(
    login_gives_a_working_token_pair,
    wrong_password_and_unknown_email_look_the_same,
    missing_malformed_and_forged_tokens_are_refused,
    refresh_rotates_and_a_reused_refresh_token_kills_the_session,
    logout_revokes_access_and_refresh,
    invites_work_once_and_set_the_password,
    deactivated_users_are_locked_out_at_once,
    users_set_their_own_language,
);

async fn login_gives_a_working_token_pair(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let pair = app.login_pair("owner@demo-taxi.example", DEMO_PASSWORD).await;
    assert_eq!(pair["token_type"], "Bearer");
    assert!(pair["expires_in"].as_i64().unwrap() <= 900, "access tokens live at most 15 minutes");
    let token = pair["access_token"].as_str().unwrap();
    assert_eq!(token.split('.').count(), 3);
    let (status, me) = app.get("/v1/me", token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["email"], "owner@demo-taxi.example");
    assert_eq!(me["role"], "owner");
    assert!(me.get("password_hash").is_none());
    // Emails are case-insensitive.
    app.login_pair("Owner@Demo-Taxi.example", DEMO_PASSWORD).await;
}

async fn wrong_password_and_unknown_email_look_the_same(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let attempt = |email: &'static str, password: &'static str| {
        let app = &app;
        async move {
            app.call(
                Method::POST,
                "/v1/auth/login",
                None,
                Some(json!({"email": email, "password": password})),
            )
            .await
        }
    };
    let (s1, wrong_pw) = attempt("owner@demo-taxi.example", "not-the-password").await;
    let (s2, unknown) = attempt("nobody@demo-taxi.example", "not-the-password").await;
    assert_eq!(s1, StatusCode::UNAUTHORIZED);
    assert_eq!(s2, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_pw, unknown, "the answer must not reveal which emails exist");
    assert_eq!(wrong_pw["error"]["code"], "UNAUTHENTICATED");
}

async fn missing_malformed_and_forged_tokens_are_refused(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let (status, body) = app.call(Method::GET, "/v1/cards", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "UNAUTHENTICATED");
    for bad in ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."] {
        let (status, _) = app.get("/v1/cards", bad).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}");
    }
    // A real token with its payload swapped for another user's claims fails the signature.
    let owner = app.owner().await;
    let anna = app.anna().await;
    let parts: Vec<&str> = owner.split('.').collect();
    let anna_parts: Vec<&str> = anna.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], anna_parts[1], parts[2]);
    let (status, _) = app.get("/v1/cards", &forged).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn refresh_rotates_and_a_reused_refresh_token_kills_the_session(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let first = app.login_pair("anna@demo-taxi.example", DEMO_PASSWORD).await;
    let refresh1 = first["refresh_token"].as_str().unwrap().to_owned();
    let (status, second) = app
        .call(Method::POST, "/v1/auth/refresh", None, Some(json!({"refresh_token": refresh1})))
        .await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let refresh2 = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh1, refresh2, "refresh tokens rotate");
    let access2 = second["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/v1/me", &access2).await.0, StatusCode::OK);

    // Replaying the first (used) refresh token is theft: refused, and the session dies.
    let (status, _) = app
        .call(Method::POST, "/v1/auth/refresh", None, Some(json!({"refresh_token": refresh1})))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/v1/me", &access2).await.0, StatusCode::UNAUTHORIZED, "session revoked");
    let (status, _) = app
        .call(Method::POST, "/v1/auth/refresh", None, Some(json!({"refresh_token": refresh2})))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the rotated token died with its session");
    let (status, _) = app
        .call(Method::POST, "/v1/auth/refresh", None, Some(json!({"refresh_token": "made-up"})))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn logout_revokes_access_and_refresh(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let pair = app.login_pair("owner@demo-taxi.example", DEMO_PASSWORD).await;
    let access = pair["access_token"].as_str().unwrap();
    let other_session = app.owner().await;
    let (status, _) = app.call(Method::POST, "/v1/auth/logout", Some(access), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/v1/me", access).await.0, StatusCode::UNAUTHORIZED);
    let (status, _) = app
        .call(
            Method::POST,
            "/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": pair["refresh_token"]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/v1/me", &other_session).await.0, StatusCode::OK, "other sessions live on");
}

async fn invites_work_once_and_set_the_password(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let north = app.group_id("North depot").await;
    let (status, created) = app
        .post("/v1/users", &owner, json!({"email": "new.driver@demo-taxi.example", "name": "New Driver", "role": "driver", "group_id": north}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["user"]["status"], "invited");
    let invite = created["invite_token"].as_str().unwrap();
    // An invited user cannot log in before accepting.
    let (status, _) = app
        .call(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"email": "new.driver@demo-taxi.example", "password": "whatever-password"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let accept = |password: &str| json!({"invite_token": invite, "password": password});
    let (status, body) =
        app.call(Method::POST, "/v1/auth/accept-invite", None, Some(accept("short"))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "password");
    let (status, user) = app
        .call(Method::POST, "/v1/auth/accept-invite", None, Some(accept("a-long-password")))
        .await;
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["status"], "active");
    let (status, _) = app
        .call(Method::POST, "/v1/auth/accept-invite", None, Some(accept("another-password")))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "an invite works once");
    app.login_pair("new.driver@demo-taxi.example", "a-long-password").await;
}

async fn deactivated_users_are_locked_out_at_once(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let owner = app.owner().await;
    let anna = app.anna().await;
    let (_, me) = app.get("/v1/me", &anna).await;
    let anna_id = me["id"].as_str().unwrap();
    let (status, body) =
        app.post(&format!("/v1/users/{anna_id}/deactivate"), &owner, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "deactivated");
    assert_eq!(app.get("/v1/me", &anna).await.0, StatusCode::UNAUTHORIZED, "existing token dies");
    let (status, _) = app
        .call(
            Method::POST,
            "/v1/auth/login",
            None,
            Some(json!({"email": "anna@demo-taxi.example", "password": DEMO_PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) =
        app.post(&format!("/v1/users/{anna_id}/deactivate"), &owner, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "ALREADY_DEACTIVATED");
}

async fn users_set_their_own_language(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let anna = app.token("anna@demo-taxi.example").await;
    let (_, me) = app.get("/v1/me", &anna).await;
    assert_eq!(me["language"], "en", "the default");

    // Any role sets its own language (here a driver); the next login reads it.
    let (status, me) = app.patch("/v1/me", &anna, json!({"language": "ru"})).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["language"], "ru");
    let again = app.token("anna@demo-taxi.example").await;
    assert_eq!(app.get("/v1/me", &again).await.1["language"], "ru");
    // Nobody else's changes: the owner's own language stays English.
    let owner = app.owner().await;
    assert_eq!(app.get("/v1/me", &owner).await.1["language"], "en");

    // Only en and ru: another code is 422 naming the field; other fields are 400.
    for bad in ["de", "RU", ""] {
        let (status, body) = app.patch("/v1/me", &anna, json!({"language": bad})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert!(body.to_string().contains("language"), "{body}");
    }
    let (status, _) = app.patch("/v1/me", &anna, json!({"name": "Anna K"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(app.get("/v1/me", &anna).await.1["language"], "ru", "refusals changed nothing");

    // The change is audited on the user, from en to ru; the refusals wrote nothing.
    let id = me["id"].as_str().expect("id").to_owned();
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(&app.database_url()).await.expect("connect");
    let rows = sqlx::query(
        "SELECT before_doc, after_doc FROM audit_events \
         WHERE subject_id = $1 AND action = 'user.updated'",
    )
    .bind(&id)
    .fetch_all(&mut db)
    .await
    .expect("audit");
    assert_eq!(rows.len(), 1);
    let before: String = rows[0].try_get("before_doc").expect("before");
    let after: String = rows[0].try_get("after_doc").expect("after");
    assert!(before.contains(r#""language":"en""#), "{before}");
    assert!(after.contains(r#""language":"ru""#), "{after}");
    // The column refuses other values whoever writes to it.
    let refused = sqlx::query("UPDATE users SET language = 'de' WHERE id = $1")
        .bind(&id)
        .execute(&mut db)
        .await;
    assert!(refused.is_err(), "the CHECK constraint");
}
