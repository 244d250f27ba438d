//! The admin registry and access tokens.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Arena, ServeOptions, TestDb};

fn model_body(name: &str) -> serde_json::Value {
    json!({
        "name": name,
        "base_url": "http://127.0.0.1:9/v1",
        "model": "upstream-model-id",
        "organization": "Example Org",
        "license": "MIT",
        "params": {"temperature": 0.7, "max_tokens": 256},
        "system_prompt": "Be brief.",
        "weight": 2.0
    })
}

#[tokio::test]
async fn every_admin_route_refuses_missing_wrong_and_researcher_tokens() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let arena = Arena::start(&db).await?;
    let admin = arena.admin();
    let token = admin
        .post(
            "/api/v1/admin/tokens",
            json!({"role": "researcher", "label": "lab"}),
        )
        .await?;
    assert_eq!(token.status, StatusCode::CREATED, "{}", token.text);
    let researcher_token = token.json["token"].as_str().expect("token").to_owned();
    let some_id = "00000000-0000-4000-8000-000000000000";
    let routes: Vec<(reqwest::Method, String)> = vec![
        (reqwest::Method::GET, "/api/v1/admin/models".into()),
        (reqwest::Method::POST, "/api/v1/admin/models".into()),
        (
            reqwest::Method::PATCH,
            format!("/api/v1/admin/models/{some_id}"),
        ),
        (
            reqwest::Method::DELETE,
            format!("/api/v1/admin/models/{some_id}"),
        ),
        (reqwest::Method::POST, "/api/v1/admin/tokens".into()),
        (reqwest::Method::GET, "/api/v1/admin/flagged-voters".into()),
        (reqwest::Method::GET, "/metrics".into()),
    ];
    let cases = [
        (None, StatusCode::UNAUTHORIZED),
        (Some("wrong-token-wrong-token"), StatusCode::UNAUTHORIZED),
        (Some(researcher_token.as_str()), StatusCode::FORBIDDEN),
    ];
    for (method, path) in &routes {
        for (token, expected) in &cases {
            let client = admin.with_token(*token);
            let request = client.request(method.clone(), path).json(&model_body("x"));
            let reply = client.send(request).await?;
            assert_eq!(
                reply.status, *expected,
                "{method} {path} with {token:?}: {}",
                reply.text
            );
            assert!(
                reply.error_code().is_some(),
                "{method} {path}: JSON error body expected, got {}",
                reply.text
            );
        }
    }
    // A malformed Authorization header is a 401 too.
    let anonymous = admin.with_token(None);
    let reply = anonymous
        .send(
            anonymous
                .request(reqwest::Method::GET, "/api/v1/admin/models")
                .header("authorization", "Basic abc"),
        )
        .await?;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    // The researcher token does open the export.
    let export = admin
        .with_token(Some(&researcher_token))
        .get("/api/v1/export")
        .await?;
    assert_eq!(export.status, StatusCode::OK, "{}", export.text);
    Ok(())
}

#[tokio::test]
async fn models_are_registered_listed_patched_and_retired() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let arena = Arena::start_with(&db, ServeOptions::without_demo()).await?;
    let admin = arena.admin();

    let created = admin
        .post("/api/v1/admin/models", model_body("alpha"))
        .await?;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let model = &created.json;
    assert_eq!(model["name"], "alpha");
    assert_eq!(model["base_url"], "http://127.0.0.1:9/v1");
    assert_eq!(model["model"], "upstream-model-id");
    assert_eq!(model["has_api_key"], false);
    assert_eq!(model["organization"], "Example Org");
    assert_eq!(model["license"], "MIT");
    assert_eq!(model["params"]["temperature"], 0.7);
    assert_eq!(model["system_prompt"], "Be brief.");
    assert_eq!(model["weight"], 2.0);
    assert_eq!(model["enabled"], true);
    assert!(
        model["created_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    let id = model["id"].as_str().expect("id").to_owned();

    let duplicate = admin
        .post("/api/v1/admin/models", model_body("alpha"))
        .await?;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    assert_eq!(duplicate.error_code(), Some("duplicate_name"));

    let patched = admin
        .patch(
            &format!("/api/v1/admin/models/{id}"),
            json!({"enabled": false, "weight": 0.5, "organization": null}),
        )
        .await?;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(patched.json["enabled"], false);
    assert_eq!(patched.json["weight"], 0.5);
    assert_eq!(patched.json["organization"], serde_json::Value::Null);
    assert_eq!(patched.json["license"], "MIT", "absent fields stay");

    admin.register(model_body("beta")).await?;
    let renamed = admin
        .patch(
            &format!("/api/v1/admin/models/{id}"),
            json!({"name": "beta"}),
        )
        .await?;
    assert_eq!(renamed.status, StatusCode::CONFLICT);
    assert_eq!(renamed.error_code(), Some("duplicate_name"));

    let list = admin.get("/api/v1/admin/models").await?;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.json["models"].as_array().map(Vec::len), Some(2));

    let retired = admin.delete(&format!("/api/v1/admin/models/{id}")).await?;
    assert_eq!(retired.status, StatusCode::NO_CONTENT);
    let after = admin.get(&format!("/api/v1/admin/models/{id}")).await?;
    assert_eq!(after.json["retired"], true);
    assert_eq!(after.json["enabled"], false);
    let revive = admin
        .patch(
            &format!("/api/v1/admin/models/{id}"),
            json!({"enabled": true}),
        )
        .await?;
    assert_eq!(revive.status, StatusCode::CONFLICT);

    let unknown = "00000000-0000-4000-8000-000000000000";
    for reply in [
        admin
            .patch(
                &format!("/api/v1/admin/models/{unknown}"),
                json!({"weight": 1}),
            )
            .await?,
        admin
            .delete(&format!("/api/v1/admin/models/{unknown}"))
            .await?,
        admin.get("/api/v1/admin/models/not-a-uuid").await?,
    ] {
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text);
        assert_eq!(reply.error_code(), Some("not_found"));
    }
    Ok(())
}

#[tokio::test]
async fn bad_input_gets_a_clear_4xx_json_error() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let arena = Arena::start_with(&db, ServeOptions::without_demo()).await?;
    let admin = arena.admin();
    let path = "/api/v1/admin/models";
    let cases: Vec<(&str, String, StatusCode)> = vec![
        ("malformed json", "{\"name\": ".into(), StatusCode::BAD_REQUEST),
        ("not an object", "[1,2]".into(), StatusCode::UNPROCESSABLE_ENTITY),
        ("wrong type", json!({"name": 5, "base_url": "http://x/v1", "model": "m"}).to_string(), StatusCode::UNPROCESSABLE_ENTITY),
        ("missing field", json!({"name": "n", "model": "m"}).to_string(), StatusCode::UNPROCESSABLE_ENTITY),
        ("unknown field", json!({"name": "n", "base_url": "http://x/v1", "model": "m", "colour": 1}).to_string(), StatusCode::UNPROCESSABLE_ENTITY),
        ("empty name", json!({"name": " ", "base_url": "http://x/v1", "model": "m"}).to_string(), StatusCode::UNPROCESSABLE_ENTITY),
        ("bad url", json!({"name": "n", "base_url": "ftp://x", "model": "m"}).to_string(), StatusCode::UNPROCESSABLE_ENTITY),
        ("negative weight", json!({"name": "n", "base_url": "http://x/v1", "model": "m", "weight": -1}).to_string(), StatusCode::UNPROCESSABLE_ENTITY),
        ("bad temperature", json!({"name": "n", "base_url": "http://x/v1", "model": "m", "params": {"temperature": 9}}).to_string(), StatusCode::UNPROCESSABLE_ENTITY),
        ("params not object", json!({"name": "n", "base_url": "http://x/v1", "model": "m", "params": [1]}).to_string(), StatusCode::UNPROCESSABLE_ENTITY),
        ("oversized", json!({"name": "n", "base_url": "http://x/v1", "model": "m", "system_prompt": "x".repeat(400_000)}).to_string(), StatusCode::PAYLOAD_TOO_LARGE),
    ];
    for (what, body, expected) in cases {
        let reply = admin.post_raw(path, "application/json", body).await?;
        assert_eq!(reply.status, expected, "{what}: {}", reply.text);
        let message = reply
            .json
            .pointer("/error/message")
            .and_then(|m| m.as_str())
            .unwrap_or_default();
        assert!(
            !message.is_empty(),
            "{what}: error message expected, got {}",
            reply.text
        );
    }
    let wrong_type = admin.post_raw(path, "text/plain", "hello").await?;
    assert!(wrong_type.status.is_client_error(), "{}", wrong_type.text);
    // Nothing was half-registered.
    let list = admin.get(path).await?;
    assert_eq!(list.json["models"].as_array().map(Vec::len), Some(0));
    // An unknown route is a JSON 404 too.
    let unknown = admin.get("/api/v1/nope").await?;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.error_code(), Some("not_found"));
    Ok(())
}

#[tokio::test]
async fn a_registered_model_survives_a_restart() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let mut arena = Arena::start_with(&db, ServeOptions::without_demo()).await?;
    let id = arena.admin().register(model_body("persistent")).await?;
    let status = arena.stop().await?;
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
    let arena = Arena::start_with(&db, ServeOptions::without_demo()).await?;
    let model = arena
        .admin()
        .get(&format!("/api/v1/admin/models/{id}"))
        .await?;
    assert_eq!(model.status, StatusCode::OK);
    assert_eq!(model.json["name"], "persistent");
    assert_eq!(model.json["params"]["max_tokens"], 256);
    Ok(())
}

#[tokio::test]
async fn api_keys_never_appear_in_responses_logs_or_metrics() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let arena = Arena::start_with(&db, ServeOptions::without_demo()).await?;
    let admin = arena.admin();
    let first_key = "sk-FIRST-secret-0123456789";
    let second_key = "sk-SECOND-secret-9876543210";
    let mut body = model_body("keyed");
    body["api_key"] = json!(first_key);
    let created = admin.post("/api/v1/admin/models", body).await?;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.json["has_api_key"], true);
    let id = created.json["id"].as_str().expect("id").to_owned();
    let rotated = admin
        .patch(
            &format!("/api/v1/admin/models/{id}"),
            json!({"api_key": second_key}),
        )
        .await?;
    assert_eq!(rotated.json["has_api_key"], true);
    let mut seen = vec![created.text, rotated.text];
    for path in [
        "/api/v1/admin/models",
        &format!("/api/v1/admin/models/{id}"),
        "/metrics",
        "/openapi.json",
        "/api/v1/export",
    ] {
        seen.push(admin.get(path).await?.text);
    }
    // A failed battle against the unreachable backend must not leak it either.
    let _ = arena
        .voter()
        .post("/api/v1/battles", json!({"prompt": "hi"}))
        .await?;
    seen.push(arena.logs());
    for text in &seen {
        assert!(
            !text.contains("sk-FIRST") && !text.contains("sk-SECOND"),
            "a key leaked into: {text}"
        );
    }
    let removed = admin
        .patch(
            &format!("/api/v1/admin/models/{id}"),
            json!({"api_key": null}),
        )
        .await?;
    assert_eq!(removed.json["has_api_key"], false);
    Ok(())
}

#[tokio::test]
async fn models_declared_in_the_settings_file_are_registered_with_keys_from_the_environment()
-> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let config = db.dir.0.join("arena.toml");
    std::fs::write(
        &config,
        r#"
battles_per_minute = 0

[[models]]
name = "from-config"
base_url = "http://127.0.0.1:9/v1"
model = "upstream-x"
api_key_env = "ARENA_TEST_UPSTREAM_KEY"
organization = "Config Org"
weight = 3.0
params = { temperature = 0.2, max_tokens = 64 }
"#,
    )?;
    let options = crate::support::ServeOptions {
        demo: false,
        extra_args: vec!["--config".into(), config.display().to_string()],
        env: vec![(
            "ARENA_TEST_UPSTREAM_KEY".into(),
            "sk-FROM-ENV-0123456789".into(),
        )],
        ..Default::default()
    };
    let arena = Arena::start_with(&db, options.clone()).await?;
    let list = arena.admin().get("/api/v1/admin/models").await?;
    let models = list.json["models"].as_array().expect("models");
    assert_eq!(models.len(), 1, "{}", list.text);
    let model = &models[0];
    assert_eq!(model["name"], "from-config");
    assert_eq!(model["source"], "config");
    assert_eq!(model["has_api_key"], true);
    assert_eq!(model["api_key_env"], "ARENA_TEST_UPSTREAM_KEY");
    assert_eq!(model["weight"], 3.0);
    assert_eq!(model["params"]["max_tokens"], 64);
    assert!(!list.text.contains("sk-FROM-ENV") && !arena.logs().contains("sk-FROM-ENV"));
    drop(arena);
    // Restarting with the same file updates in place instead of duplicating.
    let arena = Arena::start_with(&db, options).await?;
    let list = arena.admin().get("/api/v1/admin/models").await?;
    assert_eq!(list.json["models"].as_array().map(Vec::len), Some(1));
    Ok(())
}
