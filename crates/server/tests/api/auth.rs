//! Every route enforces its declared access: a walk over the router's own route table.

use dalston_server::auth::{Access, Scope};
use dalston_server::routes::routes;
use serde_json::Value;

use crate::deployment::{Deployment, on_both_deployments};
use crate::helpers::{ADMIN_KEY, AppOptions, spawn_app_with};

/// A syntactically valid id for path parameters.
fn concrete_path(path: &str) -> String {
    path.replace("{job_id}", "job_0123456789abcdef0123456789abcdef")
        .replace("{key_id}", "key_0123456789abcdef0123456789abcdef")
        .replace("{format}", "srt")
        .replace("{transcription_id}", "job_0123456789abcdef0123456789abcdef")
        .replace("{webhook_id}", "wh_0123456789abcdef0123456789abcdef")
        .replace("{delivery_id}", "msg_0123456789abcdef0123456789abcdef")
}

async fn create_key(app: &crate::helpers::TestApp, scopes: &[&str]) -> String {
    let response = app
        .client
        .post(app.url("/auth/keys"))
        .bearer_auth(ADMIN_KEY)
        .json(&serde_json::json!({ "name": "scoped", "scopes": scopes }))
        .send()
        .await
        .expect("create key");
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.expect("json");
    body["key"].as_str().expect("secret").to_owned()
}

async fn every_route_demands_its_key_and_scope(deployment: Deployment) {
    let app = spawn_app_with(AppOptions {
        deployment,
        without_engines: true,
        ..Default::default()
    })
    .await;
    let all_but = |missing: Scope| -> Vec<&'static str> {
        Scope::ALL
            .iter()
            .filter(|s| **s != missing && **s != Scope::Admin)
            .map(|s| s.as_str())
            .collect()
    };
    let table = routes();
    assert!(table.len() >= 15, "route table unexpectedly small");
    for route in table {
        let url = app.url(&concrete_path(route.path));
        let request = |key: Option<&str>| {
            let builder = app.client.request(route.method.clone(), &url);
            match key {
                Some(key) => builder.bearer_auth(key),
                None => builder,
            }
        };
        let anonymous = request(None).send().await.expect("request");
        let invalid = request(Some("dk_not_a_real_key"))
            .send()
            .await
            .expect("request");
        match route.access {
            Access::Public => {
                assert_ne!(
                    anonymous.status(),
                    401,
                    "{} {} is public",
                    route.method,
                    route.path
                );
                continue;
            }
            Access::Authenticated | Access::Scope(_) => {
                assert_eq!(
                    anonymous.status(),
                    401,
                    "{} {} without a key",
                    route.method,
                    route.path
                );
                let body: Value = anonymous.json().await.expect("json");
                assert_eq!(body["detail"]["status"], "unauthorized");
                assert_eq!(
                    invalid.status(),
                    401,
                    "{} {} with an invalid key",
                    route.method,
                    route.path
                );
            }
        }
        if let Access::Scope(scope) = route.access {
            let key = create_key(&app, &all_but(scope)).await;
            let forbidden = request(Some(&key)).send().await.expect("request");
            assert_eq!(
                forbidden.status(),
                403,
                "{} {} without {scope}",
                route.method,
                route.path
            );
            let body: Value = forbidden.json().await.expect("json");
            assert_eq!(body["detail"]["status"], "forbidden");
        }
        let admin = request(Some(ADMIN_KEY)).send().await.expect("request");
        assert!(
            !matches!(admin.status().as_u16(), 401 | 403),
            "{} {} refused the admin key",
            route.method,
            route.path
        );
    }
}

async fn keys_are_shown_once_usable_and_revocable_and_jobs_are_private(deployment: Deployment) {
    let app = spawn_app_with(AppOptions {
        deployment,
        without_engines: true,
        ..Default::default()
    })
    .await;
    let secret = create_key(&app, &["jobs:read"]).await;
    assert!(secret.starts_with("dk_") && secret.len() == 46);

    let me: Value = app
        .client
        .get(app.url("/auth/me"))
        .header("xi-api-key", &secret)
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    assert_eq!(me["scopes"], serde_json::json!(["jobs:read"]));
    let key_id = me["id"].as_str().expect("id").to_owned();

    let listed: Value = app
        .get("/auth/keys")
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    let text = listed.to_string();
    assert!(!text.contains(&secret), "the secret must never be listed");
    assert!(text.contains(&key_id));

    // The database holds only the hash.
    assert!(!app.database_contains(&secret).await);
    assert!(app.database_contains(&key_id).await, "the key is stored");

    // A job of the admin is invisible to another tenant's key.
    let job_id = app.submit(&crate::helpers::test_file("jfk.wav"), &[]).await;
    let foreign = app
        .client
        .get(app.url(&format!("/v1/audio/transcriptions/{job_id}")))
        .bearer_auth(&secret)
        .send()
        .await
        .expect("get");
    assert_eq!(foreign.status(), 404);
    let list: Value = app
        .client
        .get(app.url("/v1/audio/transcriptions"))
        .bearer_auth(&secret)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(list["jobs"], serde_json::json!([]));

    let revoke = app
        .client
        .delete(app.url(&format!("/auth/keys/{key_id}")))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoke.status(), 204);
    let after = app
        .client
        .get(app.url("/auth/me"))
        .bearer_auth(&secret)
        .send()
        .await
        .expect("me");
    assert_eq!(after.status(), 401);

    let bad_scope = app
        .client
        .post(app.url("/auth/keys"))
        .bearer_auth(ADMIN_KEY)
        .json(&serde_json::json!({ "name": "x", "scopes": ["root"] }))
        .send()
        .await
        .expect("create");
    assert_eq!(bad_scope.status(), 400);
    let self_revoke_id = {
        let me: Value = app
            .get("/auth/me")
            .send()
            .await
            .expect("me")
            .json()
            .await
            .expect("json");
        me["id"].as_str().expect("id").to_owned()
    };
    let self_revoke = app
        .client
        .delete(app.url(&format!("/auth/keys/{self_revoke_id}")))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .expect("revoke");
    assert_eq!(self_revoke.status(), 409);
}

on_both_deployments!(
    every_route_demands_its_key_and_scope,
    keys_are_shown_once_usable_and_revocable_and_jobs_are_private,
);
