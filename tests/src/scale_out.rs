//! Several `arena serve` instances on one PostgreSQL database behave as one
//! arena: a battle created through one instance can be streamed, continued
//! and voted through another.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Arena, Backend, ServeOptions, TestDb, answers, backend};

#[tokio::test]
async fn two_instances_share_battles_votes_and_the_leaderboard() -> anyhow::Result<()> {
    if backend() != Backend::Postgres {
        // One SQLite file is one machine's database: scale-out is PostgreSQL's job.
        return Ok(());
    }
    let db = TestDb::new().await?;
    let options = ServeOptions {
        demo_pace_ms: 15,
        ..Default::default()
    };
    let first = Arena::start_with(&db, options.clone()).await?;
    let second = Arena::start_with(&db, options).await?;

    let voter = first.voter();
    let id = voter.start_battle("Describe a lighthouse").await?;
    // Stream it from the other instance while the first one generates it.
    let through_second = voter.rebased(&second.url(""));
    let events = through_second.events(&id).await?;
    let (a, b) = answers(&events);
    assert!(!a.is_empty() && !b.is_empty(), "{events:?}");
    assert_eq!(events.last().map(|(n, _)| n.as_str()), Some("end"));
    let stored = voter.get(&format!("/api/v1/battles/{id}")).await?;
    assert_eq!(
        stored.json["turns"][0]["a"]["text"].as_str(),
        Some(a.as_str()),
        "the follower saw the whole answer"
    );

    // Continue through the second instance, stream through the first.
    let turn = through_second
        .post(
            &format!("/api/v1/battles/{id}/turns"),
            json!({"prompt": "Shorter, please"}),
        )
        .await?;
    assert_eq!(turn.status, StatusCode::CREATED, "{}", turn.text);
    let events = voter.events(&id).await?;
    assert!(events.iter().all(|(_, d)| d["turn"] == 2), "{events:?}");
    assert_eq!(events.last().map(|(n, _)| n.as_str()), Some("end"));

    // The first instance has a leaderboard cached before the vote.
    let before = first.voter().get("/api/v1/leaderboard").await?;
    assert_eq!(before.json["total_votes"], 0);

    // Vote through the second; the first refuses a second vote.
    let vote = through_second.vote(&id, "model_b").await?;
    assert_eq!(vote.status, StatusCode::OK, "{}", vote.text);
    let again = voter.vote(&id, "model_a").await?;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.error_code(), Some("already_voted"));

    // The first instance catches up with the vote cast through the second.
    let mut seen = 0;
    for _ in 0..50 {
        let board = first.voter().get("/api/v1/leaderboard").await?;
        seen = board.json["total_votes"].as_u64().unwrap_or_default();
        if seen == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(seen, 1, "the vote shows on the other instance");
    Ok(())
}
