//! Health, OpenAPI, metrics, pages and headers.

use reqwest::StatusCode;

use crate::support::{Arena, TestDb};

#[tokio::test]
async fn health_openapi_metrics_and_pages_are_served() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let arena = Arena::start(&db).await?;
    let anyone = arena.voter();

    let health = anyone.get("/healthz").await?;
    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.json, serde_json::json!({"status": "ok"}));

    let openapi = anyone.get("/openapi.json").await?;
    assert_eq!(openapi.status, StatusCode::OK);
    assert!(
        openapi.json["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3."))
    );
    let paths = openapi.json["paths"].as_object().expect("paths");
    for path in [
        "/api/v1/admin/models",
        "/api/v1/admin/models/{id}",
        "/api/v1/admin/tokens",
        "/api/v1/battles",
        "/api/v1/battles/{id}",
        "/api/v1/battles/{id}/events",
        "/api/v1/battles/{id}/turns",
        "/api/v1/battles/{id}/vote",
        "/api/v1/leaderboard",
        "/api/v1/leaderboard/matrix",
        "/api/v1/export",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from the OpenAPI document"
        );
    }

    let metrics = arena.admin().get("/metrics").await?;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(
        metrics.text.contains("arena_http_requests_total"),
        "{}",
        metrics.text
    );

    for page in ["/", "/leaderboard", "/admin"] {
        let reply = anyone.get(page).await?;
        assert_eq!(reply.status, StatusCode::OK, "{page}");
        assert!(
            reply.headers["content-type"]
                .to_str()?
                .starts_with("text/html")
        );
        let csp = reply.headers["content-security-policy"].to_str()?;
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert_eq!(reply.headers["x-content-type-options"], "nosniff");
        assert_eq!(reply.headers["x-frame-options"], "DENY");
    }
    let fresh = arena.voter();
    let first = fresh.get("/").await?;
    let set_cookie = first
        .headers
        .get("set-cookie")
        .expect("the voter cookie is set")
        .to_str()?;
    assert!(set_cookie.starts_with("arena_voter="), "{set_cookie}");
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"),
        "{set_cookie}"
    );
    let second = fresh.get("/").await?;
    assert!(
        second.headers.get("set-cookie").is_none(),
        "the cookie is set only when absent"
    );

    let script = anyone.get("/assets/battle.js").await?;
    assert_eq!(script.status, StatusCode::OK);
    assert!(
        script.headers["content-type"]
            .to_str()?
            .starts_with("text/javascript")
    );
    // No CORS headers: cross-origin reads are closed by default.
    let preflight = anyone
        .send(
            anyone
                .request(reqwest::Method::GET, "/api/v1/leaderboard")
                .header("origin", "https://evil.example"),
        )
        .await?;
    assert!(
        preflight
            .headers
            .get("access-control-allow-origin")
            .is_none()
    );
    Ok(())
}

#[tokio::test]
async fn migrate_subcommand_prepares_an_empty_database() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let output = tokio::process::Command::new(crate::support::binary("arena"))
        .args(["migrate", "--database-url", &db.url])
        .env("NO_COLOR", "1")
        .output()
        .await?;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Applying again is a no-op.
    let again = tokio::process::Command::new(crate::support::binary("arena"))
        .args(["migrate", "--database-url", &db.url])
        .output()
        .await?;
    assert!(again.status.success());
    Ok(())
}

#[tokio::test]
async fn serve_generates_and_prints_an_admin_token_when_unset() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let options = crate::support::ServeOptions {
        env: vec![("ARENA_ADMIN_TOKEN".into(), String::new())],
        ..Default::default()
    };
    let arena = Arena::start_with(&db, options).await?;
    let logs = arena.logs();
    let token = logs
        .lines()
        .find_map(|l| l.split("generated admin token for this run: ").nth(1))
        .expect("the generated token is printed")
        .trim()
        .to_owned();
    assert_eq!(logs.matches(&token).count(), 1, "printed exactly once");
    let list = arena
        .admin()
        .with_token(Some(&token))
        .get("/api/v1/admin/models")
        .await?;
    assert_eq!(list.status, StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn metrics_are_served_without_a_token_on_the_metrics_address() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let options = crate::support::ServeOptions {
        extra_args: vec!["--metrics-addr".into(), "127.0.0.1:0".into()],
        ..Default::default()
    };
    let arena = Arena::start_with(&db, options).await?;
    let logs = arena.logs();
    let url = logs
        .lines()
        .find_map(|l| l.strip_prefix("metrics on "))
        .expect("the metrics address is printed")
        .trim()
        .to_owned();
    arena.voter().get("/healthz").await?;
    let body = reqwest::get(&url).await?;
    assert_eq!(body.status(), StatusCode::OK);
    let text = body.text().await?;
    assert!(text.contains("arena_http_requests_total"), "{text}");
    assert!(!text.contains(crate::support::ADMIN_TOKEN));
    // The main address still requires the admin token.
    assert_eq!(
        arena.voter().get("/metrics").await?.status,
        StatusCode::UNAUTHORIZED
    );
    Ok(())
}
