//! The voter's side: battles, events, turns, votes and their rules.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Arena, ServeOptions, TestDb, answers};

#[tokio::test]
async fn a_full_battle_streams_both_answers_blind_then_reveals_on_vote() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let arena = Arena::start(&db).await?;
    let voter = arena.voter();
    let (id, events) = voter.full_battle("Explain recursion to a child").await?;
    let (a, b) = answers(&events);
    assert!(
        a.len() > 20 && b.len() > 20,
        "both answers arrive: {a:?} / {b:?}"
    );
    assert!(events.iter().any(|(n, d)| n == "done" && d["side"] == "a"));
    assert!(events.iter().any(|(n, d)| n == "done" && d["side"] == "b"));
    assert_eq!(
        events.last().map(|(n, d)| (n.as_str(), d["turn"].as_u64())),
        Some(("end", Some(1)))
    );

    let before = voter.get(&format!("/api/v1/battles/{id}")).await?;
    assert_eq!(before.status, StatusCode::OK);
    assert_eq!(before.json["state"], "ready");
    assert_eq!(before.json["models"], Value::Null);
    assert_eq!(
        before.json["turns"][0]["a"]["text"].as_str(),
        Some(a.as_str())
    );
    let names = arena
        .admin()
        .model_identities(&["name", "model", "id"])
        .await?;
    let everything_before_vote = format!("{events:?}{}", before.text);
    for name in &names {
        assert!(
            !everything_before_vote.contains(name.as_str()),
            "{name} leaked before the vote"
        );
    }

    let vote = voter.vote(&id, "model_a").await?;
    assert_eq!(vote.status, StatusCode::OK, "{}", vote.text);
    assert_eq!(vote.json["winner"], "model_a");
    let (name_a, name_b) = (
        vote.json["models"]["a"]["name"].as_str().expect("a"),
        vote.json["models"]["b"]["name"].as_str().expect("b"),
    );
    assert_ne!(name_a, name_b, "never a model against itself");
    assert!(vote.json["models"]["a"]["organization"].is_string());

    let again = voter.vote(&id, "model_b").await?;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.error_code(), Some("already_voted"));

    let after = voter.get(&format!("/api/v1/battles/{id}")).await?;
    assert_eq!(after.json["state"], "voted");
    assert_eq!(after.json["models"]["a"]["name"], name_a);

    let board = voter.get("/api/v1/leaderboard").await?;
    assert_eq!(board.json["total_votes"], 1);
    let winner = board.json["models"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|m| m["name"] == name_a)
        .expect("winner listed");
    assert_eq!(winner["votes"], 1);
    assert_eq!(
        board.json["models"][0]["name"], name_a,
        "the winner ranks first"
    );

    // A reconnecting client replays the finished turn.
    let replay = voter.events(&id).await?;
    assert_eq!(answers(&replay), (a, b));
    Ok(())
}

#[tokio::test]
async fn only_the_battles_voter_may_read_continue_or_vote() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let arena = Arena::start(&db).await?;
    let owner = arena.voter();
    let (id, _) = owner.full_battle("Hello there").await?;
    let stranger = arena.voter();
    stranger.get("/").await?; // gets its own cookie
    for reply in [
        stranger.get(&format!("/api/v1/battles/{id}")).await?,
        stranger.vote(&id, "tie").await?,
        stranger
            .post(
                &format!("/api/v1/battles/{id}/turns"),
                json!({"prompt": "more"}),
            )
            .await?,
    ] {
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
    }
    let unknown = owner
        .get("/api/v1/battles/00000000-0000-4000-8000-000000000000")
        .await?;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let bad_winner = owner.vote(&id, "draw").await?;
    assert_eq!(bad_winner.status, StatusCode::UNPROCESSABLE_ENTITY);
    let empty = owner
        .post("/api/v1/battles", json!({"prompt": "   "}))
        .await?;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    let synonym = owner.vote(&id, "tie (bothbad)").await?;
    assert_eq!(synonym.status, StatusCode::OK, "{}", synonym.text);
    assert_eq!(synonym.json["winner"], "both_bad");
    Ok(())
}

#[tokio::test]
async fn no_vote_while_generating_and_turns_only_between_answers_and_vote() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let arena = Arena::start_with(
        &db,
        ServeOptions {
            demo_pace_ms: 40,
            ..Default::default()
        },
    )
    .await?;
    let voter = arena.voter();
    let id = voter.start_battle("Tell me about the sea").await?;
    let early = voter.vote(&id, "model_a").await?;
    assert_eq!(early.status, StatusCode::CONFLICT);
    assert_eq!(early.error_code(), Some("not_ready"));
    let early_turn = voter
        .post(
            &format!("/api/v1/battles/{id}/turns"),
            json!({"prompt": "and?"}),
        )
        .await?;
    assert_eq!(early_turn.status, StatusCode::CONFLICT);
    assert_eq!(early_turn.error_code(), Some("not_ready"));
    let first = voter.events(&id).await?;
    assert_eq!(first.last().map(|(n, _)| n.as_str()), Some("end"));

    let second = voter
        .post(
            &format!("/api/v1/battles/{id}/turns"),
            json!({"prompt": "Now make it shorter"}),
        )
        .await?;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text);
    assert_eq!(second.json["turn"], 2);
    let events = voter.events(&id).await?;
    assert!(
        events.iter().all(|(_, d)| d["turn"] == 2),
        "only the current turn is streamed"
    );
    let battle = voter.get(&format!("/api/v1/battles/{id}")).await?;
    assert_eq!(battle.json["turns"].as_array().map(Vec::len), Some(2));
    assert_eq!(battle.json["turns"][1]["prompt"], "Now make it shorter");

    let vote = voter.vote(&id, "both_bad").await?;
    assert_eq!(vote.status, StatusCode::OK);
    let late_turn = voter
        .post(
            &format!("/api/v1/battles/{id}/turns"),
            json!({"prompt": "more"}),
        )
        .await?;
    assert_eq!(late_turn.status, StatusCode::CONFLICT);
    assert_eq!(late_turn.error_code(), Some("already_voted"));
    Ok(())
}

#[tokio::test]
async fn battles_are_rate_limited_per_voter_with_retry_after() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let arena = Arena::start_with(
        &db,
        ServeOptions {
            battles_per_minute: 3,
            ..Default::default()
        },
    )
    .await?;
    let voter = arena.voter();
    for _ in 0..3 {
        voter.start_battle("hi").await?;
    }
    let limited = voter
        .post("/api/v1/battles", json!({"prompt": "hi"}))
        .await?;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.error_code(), Some("rate_limited"));
    let retry: u64 = limited.headers["retry-after"].to_str()?.parse()?;
    assert!((1..=60).contains(&retry), "{retry}");
    // Another voter (same address, whose allowance is ten times larger) may still play.
    let other = arena.voter();
    other.start_battle("hi").await?;
    Ok(())
}

#[tokio::test]
async fn no_battle_without_two_models() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let arena = Arena::start(&db).await?;
    arena.admin().disable_all().await?;
    let reply = arena
        .voter()
        .post("/api/v1/battles", json!({"prompt": "hi"}))
        .await?;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.error_code(), Some("no_models"));
    Ok(())
}

#[tokio::test]
async fn disabled_and_retired_models_are_never_sampled() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let arena = Arena::start(&db).await?;
    let admin = arena.admin();
    let list = admin.get("/api/v1/admin/models").await?;
    let models = list.json["models"].as_array().expect("models").clone();
    assert!(models.len() >= 4);
    let id = |i: usize| models[i]["id"].as_str().expect("id").to_owned();
    admin
        .patch(
            &format!("/api/v1/admin/models/{}", id(0)),
            json!({"enabled": false}),
        )
        .await?;
    admin
        .delete(&format!("/api/v1/admin/models/{}", id(1)))
        .await?;
    let excluded = [
        models[0]["name"].as_str().expect("n"),
        models[1]["name"].as_str().expect("n"),
    ];
    let voter = arena.voter();
    for _ in 0..6 {
        let (battle, _) = voter.full_battle("pick").await?;
        let vote = voter.vote(&battle, "tie").await?;
        for side in ["a", "b"] {
            let name = vote.json["models"][side]["name"].as_str().expect("name");
            assert!(!excluded.contains(&name), "{name} was sampled");
        }
    }
    Ok(())
}

#[tokio::test]
async fn unvoted_battles_expire() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let options = ServeOptions {
        env: vec![("ARENA_BATTLE_EXPIRY_SECS".into(), "1".into())],
        ..Default::default()
    };
    let arena = Arena::start_with(&db, options).await?;
    let voter = arena.voter();
    let (id, _) = voter.full_battle("I will never vote").await?;
    let mut state = String::new();
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        state = voter.get(&format!("/api/v1/battles/{id}")).await?.json["state"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if state == "expired" {
            break;
        }
    }
    assert_eq!(state, "expired");
    let vote = voter.vote(&id, "tie").await?;
    assert_eq!(vote.status, StatusCode::CONFLICT);
    assert_eq!(vote.error_code(), Some("battle_expired"));
    Ok(())
}

#[tokio::test]
async fn active_sampling_draws_valid_pairs_and_stores_their_probability() -> anyhow::Result<()> {
    let db = TestDb::new().await?;
    let options = ServeOptions {
        extra_args: vec!["--sampling".into(), "active".into()],
        ..Default::default()
    };
    let arena = Arena::start_with(&db, options).await?;
    let voter = arena.voter();
    for i in 0..8 {
        let (id, _) = voter.full_battle("Compare these").await?;
        let winner = if i % 3 == 0 { "model_a" } else { "model_b" };
        let vote = voter.vote(&id, winner).await?;
        assert_eq!(vote.status, StatusCode::OK);
        assert_ne!(
            vote.json["models"]["a"]["name"],
            vote.json["models"]["b"]["name"]
        );
    }
    let token = arena
        .admin()
        .post("/api/v1/admin/tokens", json!({"role": "researcher"}))
        .await?;
    let researcher = arena.voter().with_token(token.json["token"].as_str());
    let export = researcher.get("/api/v1/export?conversations=false").await?;
    assert_eq!(export.status, StatusCode::OK, "{}", export.text);
    let rows: Vec<Value> = export
        .text
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()?;
    assert_eq!(rows.len(), 8, "{}\n{}", export.text, arena.logs());
    assert_eq!(rows.len(), 8);
    for row in rows {
        let p = row["pair_probability"]
            .as_f64()
            .expect("pair probability stored");
        assert!(p > 0.0 && p <= 1.0, "{row}");
        assert!(
            row.get("conversation_a").is_none(),
            "no conversations when asked: {row}"
        );
    }
    let full = researcher.get("/api/v1/export").await?;
    let row: Value = serde_json::from_str(full.text.lines().next().expect("a row"))?;
    assert_eq!(row["conversation_a"][0]["content"], "Compare these");
    assert_eq!(row["conversation_a"][1]["role"], "assistant");
    assert!(
        row["style_tokens_a"].as_i64().expect("style features") > 0,
        "{row}"
    );
    assert!(row["latency_b_ms"].is_i64(), "{row}");
    Ok(())
}
