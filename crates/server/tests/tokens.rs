//! Phones and payment tokens: signed time, enrolment with proof of possession,
//! provisioning, LUK batches, replenishment, and every cryptogram decline reason.

mod common;

use axum::http::{Method, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use common::phone::{now_ms, Phone};
use common::{Backend, TestApp};
use p256::ecdsa::signature::Verifier;
use serde_json::json;
use tokens::CryptogramDecline;

both_backends!(
    signed_time_verifies_over_the_callers_nonce,
    enrolment_needs_a_fresh_challenge_and_a_valid_signature,
    provisioning_gives_a_token_pan_and_a_batch_only_the_phone_opens,
    every_decline_reason_from_a_constructed_case,
    the_same_atc_presented_concurrently_is_accepted_once,
    replenishment_checks_the_signed_usage_report,
    concurrent_replenishments_never_issue_a_key_twice,
    revoking_the_device_kills_its_tokens,
    a_token_pays_only_for_the_driver_the_card_is_bound_to,
);

/// A phone enrolled by Anna with a token for her North card.
async fn anna_with_token(app: &TestApp) -> (Phone, String) {
    let anna = app.anna().await;
    let mut phone = Phone::new();
    phone.enrol(app, &anna).await;
    phone.provision(app, &anna, &app.north_card()).await;
    (phone, anna)
}

async fn signed_time_verifies_over_the_callers_nonce(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let nonce = B64.encode([7u8; 16]);
    let (status, body) =
        app.call(Method::GET, &format!("/v1/time?nonce={nonce}"), None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let time_ms = body["server_time_ms"].as_i64().unwrap();
    assert!((time_ms - now_ms()).abs() < 5_000);
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(
        &B64.decode(body["public_key"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let sig = p256::ecdsa::Signature::from_slice(
        &B64.decode(body["signature"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let message = tokens::signed_time_message(&[7u8; 16], time_ms);
    assert!(key.verify(&message, &sig).is_ok(), "the signature covers nonce and time");
    let other = tokens::signed_time_message(&[8u8; 16], time_ms);
    assert!(key.verify(&other, &sig).is_err(), "and nothing else");
    let (status, body) = app.call(Method::GET, "/v1/time", None, None).await;
    assert_eq!((status, body["error"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("nonce")));
    let (status, body) = app.call(Method::GET, "/v1/time?nonce=short", None, None).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("nonce"))
    );
}

async fn enrolment_needs_a_fresh_challenge_and_a_valid_signature(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let anna = app.anna().await;
    let phone = Phone::new();
    let (_, challenge) = app.post("/v1/devices/challenge", &anna, json!({})).await;
    let raw = B64.decode(challenge["challenge"].as_str().unwrap()).unwrap();
    let message = [b"forecourt/enrol/v1".as_slice(), &raw, &phone.public_sec1].concat();
    let body = |signature: String| json!({"public_key": B64.encode(&phone.public_sec1), "challenge": challenge["challenge"], "signature": signature, "label": "Pixel"});
    // Signed by another key: no proof of possession.
    let (status, err) = app.post("/v1/devices", &anna, body(Phone::new().sign(&message))).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("INVALID_SIGNATURE"))
    );
    let (status, device) = app.post("/v1/devices", &anna, body(phone.sign(&message))).await;
    assert_eq!(status, StatusCode::CREATED, "{device}");
    assert_eq!(device["status"], "active");
    // The challenge works once.
    let (status, err) = app.post("/v1/devices", &anna, body(phone.sign(&message))).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("INVALID_CHALLENGE"))
    );
    // Only drivers enrol phones.
    let (status, _) = app.post("/v1/devices/challenge", &app.owner().await, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, mine) = app.get("/v1/devices", &anna).await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
}

async fn provisioning_gives_a_token_pan_and_a_batch_only_the_phone_opens(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let anna = app.anna().await;
    let mut phone = Phone::new();
    phone.enrol(&app, &anna).await;
    let body = phone.provision(&app, &anna, &app.north_card()).await;
    assert!(
        phone.token_pan.starts_with("700199"),
        "token PANs come from the token BIN, never the card's"
    );
    assert!(domain::luhn::is_valid(phone.token_pan.as_bytes()));
    assert_eq!(phone.luks.len(), 8);
    assert_eq!(body["luks"].as_array().unwrap().len(), 8);
    let batch = serde_json::from_value(body["batch"].clone()).unwrap();
    assert!(
        emv::luk_batch::open(&Phone::new().secret, &phone.token_id, &batch).is_err(),
        "another phone cannot open it"
    );
    // Once per card and phone; never for someone else's card.
    let again = app
        .post(
            &format!("/v1/cards/{}/tokens", app.north_card()),
            &anna,
            json!({"device_id": phone.device_id}),
        )
        .await;
    assert_eq!(
        (again.0, again.1["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("TOKEN_EXISTS"))
    );
    let theirs = app
        .post(
            &format!("/v1/cards/{}/tokens", app.south_card()),
            &anna,
            json!({"device_id": phone.device_id}),
        )
        .await;
    assert_eq!(theirs.0, StatusCode::NOT_FOUND);
    let boris = app.boris().await;
    let stolen = app
        .post(
            &format!("/v1/cards/{}/tokens", app.south_card()),
            &boris,
            json!({"device_id": phone.device_id}),
        )
        .await;
    assert_eq!(
        (stolen.0, stolen.1["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("device_id"))
    );
}

async fn every_decline_reason_from_a_constructed_case(b: Backend) {
    use CryptogramDecline::*;
    let Some(app) = TestApp::start(b).await else { return };
    let (phone, _) = anna_with_token(&app).await;
    let tokens = &app.state.tokens;
    let now = now_ms();
    let check = |data, expected: Option<CryptogramDecline>| async move {
        let outcome = tokens.validate(&data, now_ms()).await.expect("no internal error");
        assert_eq!(outcome.as_ref().err().copied(), expected, "{outcome:?}");
    };
    // Two QR codes made in a row, used out of order: both accepted.
    check(phone.qr_payment(0, 2, now, 60), None).await;
    check(phone.qr_payment(0, 1, now, 60), None).await;
    // The same QR twice.
    check(phone.qr_payment(0, 1, now, 60), Some(Replayed)).await;
    // The driver waited too long.
    check(phone.qr_payment(1, 3, now - 200_000, 60), Some(CryptogramExpired)).await;
    // The phone's clock is ten minutes off (it has not synced since).
    check(phone.qr_payment(1, 4, now + 600_000, 60), Some(ClockSkew)).await;
    check(phone.qr_payment(1, 5, now - 600_000, 60), Some(ClockSkew)).await;
    // A phone that has not synced for a day must not have generated at all.
    check(phone.qr_payment(1, 6, now, 86_400), Some(ClockSkew)).await;
    // A tampered cryptogram, and a token PAN nobody issued.
    let mut tampered = phone.qr_payment(1, 7, now, 60);
    tampered.cryptogram[0] ^= 1;
    check(tampered, Some(CryptogramInvalid)).await;
    let mut unknown = phone.qr_payment(1, 8, now, 60);
    unknown.token_pan = "7001990000000000".into();
    unknown.token_pan.replace_range(
        15..16,
        &domain::luhn::check_digit(b"700199000000000").map(|d| (d as char).to_string()).unwrap(),
    );
    check(unknown, Some(CryptogramInvalid)).await;
    // A LUK's budget (4 uses) spent: ATCs 2 and 1 used LUK 0; two more, then exhausted.
    check(phone.qr_payment(0, 9, now, 60), None).await;
    check(phone.qr_payment(0, 10, now, 60), None).await;
    check(phone.qr_payment(0, 11, now, 60), Some(KeyExhausted)).await;
    // A LUK past its time to live.
    expire_luk(&app, &phone.token_id, &phone.luks[3].key_index.0, now).await;
    check(phone.qr_payment(3, 13, now, 60), Some(KeyExhausted)).await;
    // A blocked card blocks its tokens at once, and the driver is told the card is blocked.
    let owner = app.owner().await;
    let (status, _) = app
        .post(
            &format!("/v1/cards/{}/status", app.north_card()),
            &owner,
            json!({"status": "blocked", "reason": "lost phone"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    check(phone.qr_payment(2, 12, now, 60), Some(CardBlocked)).await;
}

async fn the_same_atc_presented_concurrently_is_accepted_once(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let (phone, _) = anna_with_token(&app).await;
    let data = phone.qr_payment(0, 42, now_ms(), 60);
    let attempts = (0..16).map(|_| app.state.tokens.validate(&data, now_ms()));
    let outcomes = futures_util::future::join_all(attempts).await;
    let accepted = outcomes.iter().filter(|o| matches!(o, Ok(Ok(_)))).count();
    assert_eq!(accepted, 1, "{outcomes:?}");
    assert!(outcomes.iter().all(|o| matches!(o, Ok(Ok(_)) | Ok(Err(CryptogramDecline::Replayed)))));
}

async fn replenishment_checks_the_signed_usage_report(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let (mut phone, anna) = anna_with_token(&app).await;
    let now = now_ms();
    for atc in 1..=2 {
        assert!(app
            .state
            .tokens
            .validate(&phone.qr_payment(0, atc, now, 60), now_ms())
            .await
            .unwrap()
            .is_ok());
    }
    let token_id: domain::TokenId = phone.token_id.parse().unwrap();
    let key0 = phone.luks[0].key_index.0;
    let request = |used: u16, issued_at: i64, signer: &Phone| {
        let message = tokens::replenish_message(token_id, issued_at, &[(key0, used)]);
        json!({"issued_at_ms": issued_at, "reports": [{"key_index": hex::encode(key0), "used": used}], "signature": signer.sign(&message)})
    };
    let path = format!("/v1/tokens/{}/replenish", phone.token_id);
    // The server saw two uses; a phone that claims one is not the only phone with the keys.
    let (status, body) = app.post(&path, &anna, request(1, now_ms(), &phone)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("USAGE_REPORT_MISMATCH"))
    );
    let (status, body) = app.post(&path, &anna, request(2, now_ms(), &Phone::new())).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("INVALID_SIGNATURE"))
    );
    let (status, body) = app.post(&path, &anna, request(2, now_ms() - 3_600_000, &phone)).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("issued_at_ms"))
    );
    let (status, body) = app.post(&path, &anna, request(3, now_ms(), &phone)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let old: Vec<_> = phone.luks.iter().map(|l| l.key_index.0).collect();
    phone.accept_batch(&body);
    assert_eq!(phone.luks.len(), 8);
    assert!(phone.luks.iter().all(|l| !old.contains(&l.key_index.0)), "fresh key indexes");
    assert!(
        app.state
            .tokens
            .validate(&phone.qr_payment(0, 3, now_ms(), 60), now_ms())
            .await
            .unwrap()
            .is_ok(),
        "new LUKs work"
    );
}

/// Replenishments of one token at once: the token's version lets one batch in per
/// version and answers the others 409 `CONCURRENT_UPDATE` without writing a key, so no
/// key index is issued twice and every key the server holds went to a phone.
async fn concurrent_replenishments_never_issue_a_key_twice(b: Backend) {
    const RACERS: usize = 6;
    let Some(app) = TestApp::start(b).await else { return };
    let (phone, anna) = anna_with_token(&app).await;
    let token_id: domain::TokenId = phone.token_id.parse().unwrap();
    let path = format!("/v1/tokens/{}/replenish", phone.token_id);
    let requests = (0..RACERS).map(|i| {
        // Distinct issue times, so each request is signed over its own message.
        let issued_at = now_ms() - i64::try_from(i).unwrap();
        let message = tokens::replenish_message(token_id, issued_at, &[]);
        let body =
            json!({"issued_at_ms": issued_at, "reports": [], "signature": phone.sign(&message)});
        app.post(&path, &anna, body)
    });
    let answers = futures_util::future::join_all(requests).await;
    let mut issued: Vec<String> = phone.luks.iter().map(|l| hex::encode(l.key_index.0)).collect();
    let mut won = 0;
    for (status, body) in &answers {
        match *status {
            StatusCode::OK => {
                won += 1;
                let keys = body["luks"].as_array().expect("the batch's keys");
                issued.extend(keys.iter().map(|k| k["key_index"].as_str().unwrap().to_owned()));
            }
            StatusCode::CONFLICT => {
                assert_eq!(body["error"]["code"], "CONCURRENT_UPDATE", "{body}");
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert!(won >= 1, "{answers:?}");
    let held = store::Store::list_luks(app.state.issuing.store(), token_id).await.unwrap();
    let mut held: Vec<String> = held.iter().map(|l| hex::encode(l.key_index)).collect();
    held.sort();
    issued.sort();
    assert_eq!(held.len(), 8 * (1 + won), "one batch per winner, none from a loser");
    assert_eq!(held, issued, "the server holds exactly the keys it handed out");
    issued.dedup();
    assert_eq!(issued.len(), held.len(), "no key index twice");
}

async fn revoking_the_device_kills_its_tokens(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let (phone, _) = anna_with_token(&app).await;
    let admin = app.admin_north().await;
    let (status, body) =
        app.post(&format!("/v1/devices/{}/revoke", phone.device_id), &admin, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let outcome =
        app.state.tokens.validate(&phone.qr_payment(0, 1, now_ms(), 60), now_ms()).await.unwrap();
    assert_eq!(outcome.err(), Some(CryptogramDecline::TokenInactive));
    let boris = app.boris().await;
    let (status, _) =
        app.post(&format!("/v1/devices/{}/revoke", phone.device_id), &boris, json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another driver cannot touch it");
}

/// Moves a LUK's expiry into the past, as time would.
/// Expires the LUK a second before `generated_at_ms`, the payment data's own time: "now" at
/// the call would leave a payment made earlier in a slow test inside the LUK's life.
async fn expire_luk(app: &TestApp, token_id: &str, key_index: &[u8; 6], generated_at_ms: i64) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut db = sqlx::AnyConnection::connect(&app.database_url()).await.expect("db");
    let past = generated_at_ms / 1_000 - 1;
    let done = sqlx::query("UPDATE luks SET expires_s = $1 WHERE token_id = $2 AND key_index = $3")
        .bind(past)
        .bind(token_id)
        .bind(hex::encode(key_index))
        .execute(&mut db)
        .await
        .expect("update");
    assert_eq!(done.rows_affected(), 1);
}

/// Tokens are not rewritten when the card changes hands: re-binding the card to another
/// driver, or deactivating the driver, must stop the old phone at validation.
async fn a_token_pays_only_for_the_driver_the_card_is_bound_to(b: Backend) {
    let Some(app) = TestApp::start(b).await else { return };
    let (phone, _) = anna_with_token(&app).await;
    let validate = |atc: u16| {
        let data = phone.qr_payment(0, atc, now_ms(), 60);
        let tokens = app.state.tokens.clone();
        async move { tokens.validate(&data, now_ms()).await.unwrap().err() }
    };
    assert_eq!(validate(1).await, None, "Anna's token pays while the card is hers");
    let owner = app.owner().await;
    let card = app.north_card();
    let boris_id = app.user_id(&app.boris().await).await;
    let anna_id = app.user_id(&app.anna().await).await;
    let rebind = |driver: String| {
        let (app, owner, card) = (&app, owner.clone(), card.clone());
        async move {
            let path = format!("/v1/cards/{card}/binding");
            let (status, body) = app.put(&path, &owner, json!({ "driver_id": driver })).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    };
    rebind(boris_id).await;
    assert_eq!(validate(2).await, Some(CryptogramDecline::TokenInactive), "card re-bound");
    rebind(anna_id.clone()).await;
    assert_eq!(validate(3).await, None, "bound back to Anna");
    let (status, body) =
        app.post(&format!("/v1/users/{anna_id}/deactivate"), &owner, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(validate(4).await, Some(CryptogramDecline::TokenInactive), "driver deactivated");
}
