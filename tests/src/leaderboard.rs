//! The live leaderboard routes.

use reqwest::StatusCode;

use crate::support::{Arena, TestDb};

#[tokio::test]
async fn leaderboard_counts_votes_by_method_and_matrix() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let arena = Arena::start(&db).await?;
    let voter = arena.voter();
    for winner in ["model_a", "model_b", "tie", "both_bad", "model_a"] {
        let (id, _) = voter
            .full_battle("Write Python code to sort a list")
            .await?;
        let vote = voter.vote(&id, winner).await?;
        assert_eq!(vote.status, StatusCode::OK);
    }
    for method in ["bt", "elo"] {
        let board = voter
            .get(&format!("/api/v1/leaderboard?method={method}"))
            .await?;
        assert_eq!(board.status, StatusCode::OK, "{}", board.text);
        assert_eq!(board.json["method"], method);
        assert_eq!(board.json["total_votes"], 5);
        let rows = board.json["models"].as_array().expect("rows");
        assert!(rows.len() >= 2);
        let votes: u64 = rows
            .iter()
            .map(|r| r["votes"].as_u64().expect("votes"))
            .sum();
        assert_eq!(votes, 10, "each vote counts for both models");
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(row["rank"], i as u64 + 1);
            let (lo, r, hi) = (
                row["ci_lower"].as_f64().expect("lo"),
                row["rating"].as_f64().expect("r"),
                row["ci_upper"].as_f64().expect("hi"),
            );
            assert!(lo <= r && r <= hi, "{row}");
            assert!(row["rank_ub"].as_u64().expect("rank_ub") >= 1);
            assert_eq!(row["provisional"], true, "fewer than 300 votes");
            assert_eq!(row["deprecated"], false);
        }
    }
    let coding = voter.get("/api/v1/leaderboard?category=coding").await?;
    assert_eq!(coding.status, StatusCode::OK, "{}", coding.text);
    assert_eq!(coding.json["total_votes"], 5);
    let categories = voter.get("/api/v1/leaderboard/categories").await?;
    assert!(
        categories.json["categories"]
            .as_array()
            .expect("list")
            .iter()
            .any(|c| c == "coding")
    );
    let unknown = voter.get("/api/v1/leaderboard?category=nope").await?;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let bad = voter.get("/api/v1/leaderboard?method=glicko").await?;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

    let battles = voter.get("/api/v1/leaderboard/matrix?kind=battles").await?;
    assert_eq!(battles.status, StatusCode::OK);
    let n = battles.json["models"].as_array().expect("models").len();
    let values = battles.json["values"].as_array().expect("values");
    assert_eq!(values.len(), n);
    let total: f64 = values
        .iter()
        .flat_map(|r| r.as_array().expect("row"))
        .filter_map(|v| v.as_f64())
        .sum();
    assert_eq!(
        total, 10.0,
        "the battle matrix is symmetric: each battle counted twice"
    );
    let win = voter
        .get("/api/v1/leaderboard/matrix?kind=win_rate")
        .await?;
    for row in win.json["values"].as_array().expect("values") {
        for v in row
            .as_array()
            .expect("row")
            .iter()
            .filter_map(|v| v.as_f64())
        {
            assert!((0.0..=1.0).contains(&v));
        }
    }
    Ok(())
}

#[tokio::test]
async fn retired_models_stay_on_the_leaderboard_as_deprecated() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let arena = Arena::start(&db).await?;
    let voter = arena.voter();
    let (id, _) = voter.full_battle("hello").await?;
    let vote = voter.vote(&id, "model_a").await?;
    let name = vote.json["models"]["a"]["name"]
        .as_str()
        .expect("name")
        .to_owned();
    let admin = arena.admin();
    let list = admin.get("/api/v1/admin/models").await?;
    let model = list.json["models"]
        .as_array()
        .expect("models")
        .iter()
        .find(|m| m["name"] == name.as_str())
        .expect("model")
        .clone();
    admin
        .delete(&format!(
            "/api/v1/admin/models/{}",
            model["id"].as_str().expect("id")
        ))
        .await?;
    // The cache picks up registry changes on read.
    let board = voter.get("/api/v1/leaderboard").await?;
    let row = board.json["models"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|m| m["name"] == name.as_str())
        .expect("still listed")
        .clone();
    assert_eq!(row["deprecated"], true);
    Ok(())
}
