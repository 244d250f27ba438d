//! Real OpenAI-compatible backends (our mock server, a separate process) and
//! their faults: each fault ends in the right event and state, with no 5xx
//! from our API and no model identity before the vote.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{Arena, Client, MockUpstream, ServeOptions, TestDb, answers};

/// A server with no demo models and short backend timeouts.
async fn arena(db: &TestDb) -> anyhow::Result<Arena> {
    let options = ServeOptions {
        demo: false,
        env: vec![
            ("ARENA_FIRST_TOKEN_TIMEOUT_MS".into(), "1500".into()),
            ("ARENA_TOTAL_TIMEOUT_MS".into(), "4000".into()),
            ("ARENA_CONNECT_TIMEOUT_MS".into(), "1000".into()),
            ("ARENA_RETRY_BACKOFF_MS".into(), "50".into()),
        ],
        ..Default::default()
    };
    Arena::start_with(db, options).await
}

/// Registers a healthy model and one with `upstream` as its model string.
async fn pair(admin: &Client, base_url: &str, upstream: &str, tag: &str) -> anyhow::Result<()> {
    admin
        .register(json!({"name": format!("good-{tag}"), "base_url": base_url, "model": format!("echo+tag:{tag}"), "organization": "GoodCorp"}))
        .await?;
    admin
        .register(json!({"name": format!("faulty-{tag}"), "base_url": base_url, "model": upstream, "organization": "FaultCorp"}))
        .await?;
    Ok(())
}

fn side_events<'a>(events: &'a [(String, Value)], name: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, d)| d)
        .collect()
}

#[tokio::test]
async fn both_answers_arrive_intact_from_a_real_openai_compatible_server() -> anyhow::Result<()> {
    let mock = MockUpstream::start().await?;
    let db = TestDb::new().await?;
    let arena = arena(&db).await?;
    let admin = arena.admin();
    pair(
        &admin,
        &mock.base_url(),
        "keepalive+long:40+pace:2",
        "intact",
    )
    .await?;
    let voter = arena.voter();
    let (id, events) = voter.full_battle("Say something about the moon").await?;
    assert_eq!(side_events(&events, "done").len(), 2, "{events:?}");
    assert!(side_events(&events, "error").is_empty(), "{events:?}");
    let (a, b) = answers(&events);
    let battle = voter.get(&format!("/api/v1/battles/{id}")).await?;
    assert_eq!(
        battle.json["turns"][0]["a"]["text"].as_str(),
        Some(a.as_str()),
        "stored answer equals streamed answer"
    );
    assert_eq!(
        battle.json["turns"][0]["b"]["text"].as_str(),
        Some(b.as_str())
    );
    let long = if a.len() > b.len() { &a } else { &b };
    assert!(long.split_whitespace().count() >= 40, "{long}");
    let seen = format!("{events:?}{}", battle.text);
    for identity in admin
        .model_identities(&["name", "model", "id", "organization"])
        .await?
    {
        assert!(
            !seen.contains(&identity),
            "{identity} visible before the vote"
        );
    }
    let vote = voter.vote(&id, "model_b").await?;
    assert_eq!(vote.status, StatusCode::OK, "{}", vote.text);
    Ok(())
}

#[tokio::test]
async fn each_fault_ends_in_an_error_event_and_an_unvotable_battle() -> anyhow::Result<()> {
    let mock = MockUpstream::start().await?;
    let db = TestDb::new().await?;
    let arena = arena(&db).await?;
    let admin = arena.admin();
    let cases = [
        ("status:429", "rate_limited"),
        ("status:500", "upstream_error"),
        ("cut:3", "stream_cut"),
        ("malformed:2", "malformed_response"),
        ("hang", "timeout"),
        ("slow-first-token:3000", "timeout"),
    ];
    for (fault, _kind) in cases {
        admin.disable_all().await?;
        let tag = fault.replace([':', '-'], "_");
        pair(
            &admin,
            &mock.base_url(),
            &format!("{fault}+tag:{tag}"),
            &tag,
        )
        .await?;
        let voter = arena.voter();
        let (id, events) = voter.full_battle("Tell me a fact").await?;
        let errors = side_events(&events, "error");
        assert_eq!(
            errors.len(),
            1,
            "{fault}: exactly the faulty side fails: {events:?}"
        );
        let message = errors[0]["message"].as_str().expect("message");
        assert!(!message.is_empty());
        for leak in ["faulty", "FaultCorp", "127.0.0.1", "status", "500", "429"] {
            assert!(
                !message.contains(leak),
                "{fault}: the voter message names upstream detail: {message}"
            );
        }
        assert_eq!(
            side_events(&events, "done").len(),
            1,
            "{fault}: the healthy side completes"
        );
        let vote = voter.vote(&id, "model_a").await?;
        assert_eq!(vote.status, StatusCode::CONFLICT, "{fault}: {}", vote.text);
        assert_eq!(vote.error_code(), Some("battle_failed"));
        let battle = voter.get(&format!("/api/v1/battles/{id}")).await?;
        assert_eq!(battle.json["state"], "failed", "{fault}");
        assert_eq!(
            battle.json["models"],
            Value::Null,
            "{fault}: no reveal for a failed battle"
        );
        let seen = format!("{events:?}{}", battle.text);
        for identity in admin
            .model_identities(&["name", "model", "id", "organization"])
            .await?
        {
            assert!(!seen.contains(&identity), "{fault}: {identity} visible");
        }
    }
    let logs = arena.logs();
    assert!(!logs.contains("panicked"), "no panic: {logs}");
    assert!(!logs.contains("status=500 Internal"), "no 5xx from our API");
    Ok(())
}

#[tokio::test]
async fn retries_happen_only_before_the_first_token() -> anyhow::Result<()> {
    let mock = MockUpstream::start().await?;
    let db = TestDb::new().await?;
    let arena = arena(&db).await?;
    let admin = arena.admin();
    // flaky:1 fails once with 503, then answers: a retry recovers it.
    pair(&admin, &mock.base_url(), "echo+flaky:1+tag:retry", "retry").await?;
    let voter = arena.voter();
    let (_, events) = voter.full_battle("Retry me").await?;
    assert_eq!(side_events(&events, "done").len(), 2, "{events:?}");
    // cut:3 breaks the stream after the first tokens: never retried.
    admin.disable_all().await?;
    pair(&admin, &mock.base_url(), "cut:3+tag:noretry", "noretry").await?;
    let (_, events) = voter.full_battle("Cut me").await?;
    assert_eq!(side_events(&events, "error").len(), 1);
    let stats = mock.stats().await?;
    assert_eq!(stats["requests"]["echo+flaky:1+tag:retry"], 2, "{stats}");
    assert_eq!(stats["requests"]["cut:3+tag:noretry"], 1, "{stats}");
    Ok(())
}

#[tokio::test]
async fn a_refused_connection_fails_the_side_and_repeated_failures_cool_the_model_down()
-> anyhow::Result<()> {
    let mock = MockUpstream::start().await?;
    let db = TestDb::new().await?;
    let arena = arena(&db).await?;
    let admin = arena.admin();
    admin
        .register(json!({"name": "good-refused", "base_url": mock.base_url(), "model": "echo"}))
        .await?;
    // Port 9 (discard) is closed on the loopback: connection refused.
    let broken = admin
        .register(json!({"name": "broken", "base_url": "http://127.0.0.1:9/v1", "model": "m"}))
        .await?;
    let voter = arena.voter();
    for _ in 0..3 {
        let (_, events) = voter.full_battle("hello").await?;
        assert_eq!(side_events(&events, "error").len(), 1, "{events:?}");
    }
    let model = admin.get(&format!("/api/v1/admin/models/{broken}")).await?;
    let health = &model.json["health"];
    assert_eq!(health["last_error"], "connect_failed", "{health}");
    assert!(health["consecutive_failures"].as_u64() >= Some(3));
    assert!(
        health["cooling_down_until"].is_string(),
        "taken out of sampling: {health}"
    );
    // With the broken model cooling down, only one model is left.
    let reply = voter
        .post("/api/v1/battles", json!({"prompt": "hello"}))
        .await?;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert_eq!(reply.error_code(), Some("no_models"));
    Ok(())
}

#[tokio::test]
async fn an_answer_naming_a_model_is_stored_but_not_counted() -> anyhow::Result<()> {
    let mock = MockUpstream::start().await?;
    let db = TestDb::new().await?;
    let arena = arena(&db).await?;
    let admin = arena.admin();
    pair(&admin, &mock.base_url(), "leak+tag:leak", "leak").await?;
    let voter = arena.voter();
    let (id, events) = voter.full_battle("Who are you?").await?;
    assert_eq!(side_events(&events, "done").len(), 2);
    let vote = voter.vote(&id, "model_a").await?;
    assert_eq!(
        vote.status,
        StatusCode::OK,
        "the vote is accepted and stored"
    );
    let board = voter.get("/api/v1/leaderboard").await?;
    assert_eq!(
        board.json["total_votes"], 0,
        "a leaked battle does not count: {}",
        board.text
    );
    Ok(())
}

#[tokio::test]
async fn generation_stops_when_the_server_shuts_down() -> anyhow::Result<()> {
    let mock = MockUpstream::start().await?;
    let db = TestDb::new().await?;
    let mut arena = arena(&db).await?;
    let admin = arena.admin();
    pair(
        &admin,
        &mock.base_url(),
        "echo+long:500+pace:50+tag:slow",
        "slow",
    )
    .await?;
    let voter = arena.voter();
    let id = voter.start_battle("Take your time").await?;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let status = arena.stop().await?;
    assert!(status.success(), "{status}");
    // The unfinished battle is recorded as failed, not left generating.
    let restarted = self::arena(&db).await?;
    let battle = voter
        .rebased(&restarted.url(""))
        .get(&format!("/api/v1/battles/{id}"))
        .await?;
    assert_eq!(battle.json["state"], "failed", "{}", battle.text);
    let stats = mock.stats().await?;
    assert!(
        stats["aborted"]["echo+long:500+pace:50+tag:slow"].as_u64() >= Some(1),
        "the upstream request was dropped: {stats}"
    );
    Ok(())
}
