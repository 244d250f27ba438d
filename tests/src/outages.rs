//! The database going away and coming back: clear errors while it is gone,
//! recovery without a restart, no acknowledged vote lost.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use sqlx::Connection;

use crate::support::{Arena, Backend, ServeOptions, TestDb, backend, postgres_admin_url};

/// The database name at the end of a PostgreSQL URL.
fn database_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or_default()
}

async fn wait_healthy(arena: &Arena) -> anyhow::Result<()> {
    let client = arena.voter();
    for _ in 0..100 {
        if client.get("/healthz").await?.status == StatusCode::OK {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    anyhow::bail!("the server did not recover")
}

#[tokio::test]
async fn postgres_going_away_gives_503_and_the_server_recovers_without_restart()
-> anyhow::Result<()> {
    if backend() != Backend::Postgres {
        return Ok(());
    }
    let db = TestDb::new().await?;
    let arena = Arena::start_with(&db, ServeOptions::instant()).await?;
    let voter = arena.voter();
    let (before, _) = voter.full_battle("before the outage").await?;
    let vote = voter.vote(&before, "model_a").await?;
    assert_eq!(vote.status, StatusCode::OK);

    // Take this test's database away: refuse new connections, end the open ones.
    let name = database_name(&db.url).to_owned();
    let mut admin = sqlx::PgConnection::connect(&postgres_admin_url()).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {name} ALLOW_CONNECTIONS false"
    )))
    .execute(&mut admin)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    )))
    .execute(&mut admin)
    .await?;

    let health = voter.get("/healthz").await?;
    assert_eq!(
        health.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        health.text
    );
    assert!(
        health.error_code().is_some(),
        "a JSON error: {}",
        health.text
    );
    let battle = voter
        .post("/api/v1/battles", json!({"prompt": "during"}))
        .await?;
    assert_eq!(
        battle.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        battle.text
    );
    assert!(battle.error_code().is_some(), "{}", battle.text);
    assert!(
        !battle.text.contains("pg_") && !battle.text.contains("postgres"),
        "no internals in the body: {}",
        battle.text
    );

    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {name} ALLOW_CONNECTIONS true"
    )))
    .execute(&mut admin)
    .await?;
    wait_healthy(&arena).await?;
    let (after, _) = voter.full_battle("after the outage").await?;
    let vote = voter.vote(&after, "model_b").await?;
    assert_eq!(vote.status, StatusCode::OK, "{}", vote.text);
    let first = voter.get(&format!("/api/v1/battles/{before}")).await?;
    assert_eq!(
        first.json["state"], "voted",
        "the vote from before the outage is kept"
    );
    Ok(())
}

#[tokio::test]
async fn a_locked_sqlite_file_delays_writes_instead_of_failing_them() -> anyhow::Result<()> {
    if backend() != Backend::Sqlite {
        return Ok(());
    }
    let db = TestDb::new().await?;
    let arena = Arena::start_with(&db, ServeOptions::instant()).await?;
    let voter = arena.voter();
    let (id, _) = voter.full_battle("lock me out").await?;

    // Another process-level writer holds the write lock for two seconds.
    let mut locker = sqlx::SqliteConnection::connect(&db.url).await?;
    sqlx::query("BEGIN IMMEDIATE").execute(&mut locker).await?;
    let vote = {
        let voter = voter.clone();
        let id = id.clone();
        tokio::spawn(async move { voter.vote(&id, "tie").await })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!vote.is_finished(), "the vote waits for the lock");
    sqlx::query("COMMIT").execute(&mut locker).await?;
    let vote = vote.await??;
    assert_eq!(vote.status, StatusCode::OK, "{}", vote.text);
    let battle = voter.get(&format!("/api/v1/battles/{id}")).await?;
    assert_eq!(battle.json["state"], "voted");
    Ok(())
}
