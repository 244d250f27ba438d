//! Durability: a vote answered with 200 is committed, even when the server
//! is killed with SIGKILL in the middle of concurrent voting.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;

use crate::support::{Arena, Client, ServeOptions, TestDb};

#[tokio::test]
async fn acknowledged_votes_survive_sigkill_under_concurrent_voting() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let options = ServeOptions::instant();
    let mut arena = Arena::start_with(&db, options.clone()).await?;
    // Each worker is its own voter; it records every battle whose vote got a 200.
    let acknowledged: Arc<Mutex<Vec<(Client, String)>>> = Arc::default();
    let mut workers = Vec::new();
    for _ in 0..8 {
        let voter = arena.voter();
        let acknowledged = Arc::clone(&acknowledged);
        workers.push(tokio::spawn(async move {
            for _ in 0..1000 {
                let Ok((id, _)) = voter.full_battle("Quick question").await else {
                    break;
                };
                match voter.vote(&id, "model_a").await {
                    Ok(reply) if reply.status == StatusCode::OK => {
                        acknowledged.lock().expect("lock").push((voter.clone(), id));
                    }
                    _ => break,
                }
            }
        }));
    }
    // Let votes flow, then kill the server without warning.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while acknowledged.lock().expect("lock").len() < 40 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    arena.kill().await;
    for worker in workers {
        let _ = worker.await;
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();
    assert!(
        acknowledged.len() >= 40,
        "enough votes before the kill: {}",
        acknowledged.len()
    );

    let restarted = Arena::start_with(&db, options).await?;
    let base = restarted.url("");
    let mut stored = 0;
    for (voter, id) in &acknowledged {
        let voter = voter.rebased(&base);
        let battle = voter.get(&format!("/api/v1/battles/{id}")).await?;
        assert_eq!(battle.status, StatusCode::OK, "{}", battle.text);
        assert_eq!(
            battle.json["state"], "voted",
            "acknowledged vote lost for {id}"
        );
        stored += 1;
    }
    let board = restarted.voter().get("/api/v1/leaderboard").await?;
    let total = board.json["total_votes"].as_u64().expect("total");
    assert!(
        total >= stored,
        "stored {total} votes, acknowledged {stored}"
    );
    Ok(())
}
