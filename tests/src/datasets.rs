//! The research datasets: `GET /api/v1/export`, `arena export`,
//! `arena import` and `arena leaderboard`, on the real binary and database.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, Result, ensure};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{
    Arena, Client, ServeOptions, TestDb, arena_cli, arena_ok, count_rows, execute_sql, voter_cookie,
};

/// The contract's columns, in order, before any research column.
const CONTRACT_COLUMNS: [&str; 10] = [
    "question_id",
    "model_a",
    "model_b",
    "winner",
    "judge",
    "turn",
    "anony",
    "tstamp",
    "conversation_a",
    "conversation_b",
];

const CANONICAL_WINNERS: [&str; 4] = ["model_a", "model_b", "tie", "both_bad"];

/// A key registered on a (disabled) model: it must never reach an export.
const SECRET_KEY: &str = "sk-datasets-secret-4242-do-not-export";

/// Plays `count` battles through the server, spread over several voters
/// (one voter casting every vote could trip the anomalous-voter test), and
/// votes on each, cycling through every winner spelling. Returns the voters.
async fn play(arena: &Arena, count: usize) -> Result<Vec<Client>> {
    let voters: Vec<Client> = (0..4).map(|_| arena.voter()).collect();
    let winners = [
        "model_a",
        "model_b",
        "tie",
        "both_bad",
        "tie (bothbad)",
        "model_a",
    ];
    for i in 0..count {
        let voter = &voters[i % voters.len()];
        let prompt = if i % 3 == 0 {
            format!("Write Python code to sort list number {i}")
        } else {
            format!("Tell me a short story about the number {i}")
        };
        let (id, events) = voter.full_battle(&prompt).await?;
        ensure!(
            events.last().is_some_and(|(name, _)| name == "end"),
            "battle {id} did not end: {events:?}"
        );
        let vote = voter.vote(&id, winners[i % winners.len()]).await?;
        ensure!(vote.status == StatusCode::OK, "vote: {}", vote.text);
    }
    Ok(voters)
}

/// `name → rating` of a leaderboard body (server or `--format json`).
fn ratings(board: &Value) -> Result<BTreeMap<String, f64>> {
    board["models"]
        .as_array()
        .context("models")?
        .iter()
        .map(|m| {
            Ok((
                m["name"].as_str().context("name")?.to_owned(),
                m["rating"].as_f64().context("rating")?,
            ))
        })
        .collect()
}

fn assert_same_ratings(what: &str, expected: &Value, actual: &Value) -> Result<()> {
    let (expected, actual) = (ratings(expected)?, ratings(actual)?);
    ensure!(
        expected.keys().eq(actual.keys()),
        "{what}: models differ: {expected:?} vs {actual:?}"
    );
    for (name, rating) in &expected {
        let other = actual[name];
        ensure!(
            (rating - other).abs() <= 0.01,
            "{what}: {name} rated {other}, expected {rating}"
        );
    }
    Ok(())
}

/// `arena leaderboard ARGS --format json`, parsed.
async fn offline_board(args: &[&str]) -> Result<Value> {
    let mut all = vec!["leaderboard", "--format", "json"];
    all.extend_from_slice(args);
    let (stdout, _) = arena_ok(&all).await?;
    serde_json::from_str(&stdout).with_context(|| format!("leaderboard output: {stdout}"))
}

/// A small RFC 4180 reader (quotes, doubled quotes, newlines in fields).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        records.push(record);
    }
    records
}

/// Checks one exported row, as JSON, against the export contract.
fn check_row(row: &Value, conversations: bool) -> Result<()> {
    for column in &CONTRACT_COLUMNS[..8] {
        ensure!(row.get(*column).is_some(), "missing {column} in {row}");
    }
    ensure!(row["tstamp"].is_f64(), "tstamp is not a float: {row}");
    let winner = row["winner"].as_str().context("winner")?;
    ensure!(CANONICAL_WINNERS.contains(&winner), "winner {winner:?}");
    let judge = row["judge"].as_str().context("judge")?;
    ensure!(judge.starts_with("judge_"), "judge {judge:?} is not salted");
    ensure!(row["anony"] == true, "anony: {row}");
    ensure!(row["turn"].as_u64() >= Some(1), "turn: {row}");
    ensure!(row["model_a"] != row["model_b"], "a model against itself");
    if conversations {
        for side in ["conversation_a", "conversation_b"] {
            let messages = row[side]
                .as_array()
                .with_context(|| format!("{side}: {row}"))?;
            ensure!(messages.len() >= 2, "{side} is empty: {row}");
            ensure!(messages[0]["role"] == "user", "{side}: {row}");
            ensure!(messages[1]["role"] == "assistant", "{side}: {row}");
            ensure!(messages[1]["content"].is_string(), "{side}: {row}");
        }
    } else {
        ensure!(
            row.get("conversation_a").is_none_or(Value::is_null)
                && row.get("conversation_b").is_none_or(Value::is_null),
            "conversations present: {row}"
        );
    }
    Ok(())
}

fn jsonl_rows(text: &str) -> Result<Vec<Value>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).with_context(|| format!("JSONL line {l}")))
        .collect()
}

/// CSV rows as JSON objects, with the contract's typed columns parsed back.
fn csv_rows(text: &str) -> Result<Vec<Value>> {
    let records = parse_csv(text);
    let (header, body) = records.split_first().context("empty CSV")?;
    body.iter()
        .map(|record| {
            ensure!(record.len() == header.len(), "ragged CSV row {record:?}");
            let mut row = serde_json::Map::new();
            for (name, text) in header.iter().zip(record) {
                let value = match name.as_str() {
                    "tstamp" => {
                        ensure!(text.contains('.'), "tstamp {text:?} is not a float");
                        json!(text.parse::<f64>()?)
                    }
                    "turn" => json!(text.parse::<u64>()?),
                    "anony" => json!(text.eq_ignore_ascii_case("true")),
                    "conversation_a" | "conversation_b" => serde_json::from_str(text)?,
                    _ => json!(text),
                };
                row.insert(name.clone(), value);
            }
            Ok(Value::Object(row))
        })
        .collect()
}

fn header_of(csv: &str) -> &str {
    csv.lines().next().unwrap_or_default()
}

fn is_parquet(bytes: &[u8]) -> bool {
    bytes.len() > 8 && bytes.starts_with(b"PAR1") && bytes.ends_with(b"PAR1")
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

#[tokio::test]
async fn exports_follow_the_contract_and_match_the_live_leaderboard() -> Result<()> {
    let db = TestDb::new().await?;
    let arena = Arena::start(&db).await?;
    let admin = arena.admin();
    // A model with a key, disabled so it is never drawn: the key must not
    // appear in any export.
    admin
        .register(json!({
            "name": "keyed-model",
            "base_url": "http://127.0.0.1:9/v1",
            "model": "keyed",
            "api_key": SECRET_KEY,
            "enabled": false,
        }))
        .await?;
    let voters = play(&arena, 12).await?;
    let cookies: Vec<String> = voters.iter().filter_map(voter_cookie).collect();
    assert_eq!(cookies.len(), voters.len(), "every voter got a cookie");

    // Tokens: researcher exports, but is refused on admin routes.
    let created = admin
        .post(
            "/api/v1/admin/tokens",
            json!({"role": "researcher", "label": "datasets test"}),
        )
        .await?;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let token = created.json["token"].as_str().context("token")?.to_owned();
    let researcher = arena.voter().with_token(Some(&token));
    let anonymous = arena.voter();
    assert_eq!(
        anonymous.get("/api/v1/export").await?.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        researcher.get("/api/v1/admin/models").await?.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        researcher
            .post("/api/v1/admin/tokens", json!({"role": "admin"}))
            .await?
            .status,
        StatusCode::FORBIDDEN
    );

    let server_bt = arena.voter().get("/api/v1/leaderboard").await?;
    assert_eq!(server_bt.status, StatusCode::OK, "{}", server_bt.text);
    let server_elo = arena.voter().get("/api/v1/leaderboard?method=elo").await?;
    let total = server_bt.json["total_votes"].as_u64().context("total")? as usize;
    assert!(
        total >= 10,
        "most of the 12 votes count: {}",
        server_bt.text
    );

    // HTTP exports.
    let mut texts = Vec::new();
    let http_jsonl = researcher.get("/api/v1/export").await?;
    assert_eq!(http_jsonl.status, StatusCode::OK, "{}", http_jsonl.text);
    let rows = jsonl_rows(&http_jsonl.text)?;
    assert_eq!(rows.len(), total);
    for row in &rows {
        check_row(row, true)?;
    }
    // The judge is one stable salted hash per voter: 4 voters, ≤ 4 judges.
    let judges: BTreeSet<&str> = rows.iter().filter_map(|r| r["judge"].as_str()).collect();
    assert!(
        !judges.is_empty() && judges.len() <= voters.len(),
        "{judges:?}"
    );
    texts.push(http_jsonl.text.clone());

    // Time filters: [since, until) on the vote time.
    let stamps: Vec<f64> = rows.iter().filter_map(|r| r["tstamp"].as_f64()).collect();
    let middle = stamps[stamps.len() / 2];
    // Whole milliseconds, as stored: no rounding at the boundary.
    let rfc3339 = |seconds: f64| -> Result<String> {
        let ms = (seconds * 1000.0).round() as i128;
        let at = time::OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000)?;
        Ok(at.format(&time::format_description::well_known::Rfc3339)?)
    };
    let since = researcher
        .get(&format!(
            "/api/v1/export?conversations=false&since={}",
            rfc3339(middle)?
        ))
        .await?;
    let until = researcher
        .get(&format!(
            "/api/v1/export?conversations=false&until={}",
            rfc3339(middle)?
        ))
        .await?;
    let (since, until) = (jsonl_rows(&since.text)?, jsonl_rows(&until.text)?);
    assert_eq!(since.len() + until.len(), total, "the two halves cover all");
    assert!(since.iter().all(|r| r["tstamp"].as_f64() >= Some(middle)));
    assert!(until.iter().all(|r| r["tstamp"].as_f64() < Some(middle)));
    assert!(!since.is_empty());

    let admin_jsonl = admin
        .get("/api/v1/export?format=jsonl&conversations=false")
        .await?;
    assert_eq!(admin_jsonl.status, StatusCode::OK, "admin may export too");
    for row in jsonl_rows(&admin_jsonl.text)? {
        check_row(&row, false)?;
    }
    texts.push(admin_jsonl.text);

    let http_csv = researcher.get("/api/v1/export?format=csv").await?;
    assert_eq!(http_csv.status, StatusCode::OK);
    assert!(
        header_of(&http_csv.text).starts_with(&CONTRACT_COLUMNS.join(",")),
        "CSV header: {}",
        header_of(&http_csv.text)
    );
    let rows = csv_rows(&http_csv.text)?;
    assert_eq!(rows.len(), total);
    for row in &rows {
        check_row(row, true)?;
    }
    texts.push(http_csv.text.clone());

    let http_csv_bare = researcher
        .get("/api/v1/export?format=csv&conversations=false")
        .await?;
    assert!(
        header_of(&http_csv_bare.text).starts_with(&CONTRACT_COLUMNS[..8].join(",")),
        "{}",
        header_of(&http_csv_bare.text)
    );
    assert!(!header_of(&http_csv_bare.text).contains("conversation_a"));
    for row in csv_rows(&http_csv_bare.text)? {
        check_row(&row, false)?;
    }

    // The body is binary: read it as bytes, not through `Client`'s text.
    let response = reqwest::Client::new()
        .get(arena.url("/api/v1/export?format=parquet"))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::OK);
    let parquet_bytes = response.bytes().await?;
    assert!(is_parquet(&parquet_bytes), "not a Parquet file");
    let http_parquet_path = db.dir.0.join("http.parquet");
    std::fs::write(&http_parquet_path, &parquet_bytes)?;

    // Command-line exports against the same database, while the server runs.
    let dir = &db.dir.0;
    let mut files = Vec::new();
    for (name, extra) in [
        ("votes.jsonl", None),
        ("votes.csv", None),
        ("votes.parquet", None),
        ("bare.jsonl", Some("--no-conversations")),
        ("typed.out", Some("--format=csv")),
    ] {
        let out = dir.join(name);
        let mut args = vec!["export", "--database-url", &db.url, "--out", path_str(&out)];
        args.extend(extra);
        let (_, stderr) = arena_ok(&args).await?;
        assert!(
            stderr.contains(&format!("exported {total} battles")),
            "{stderr}"
        );
        let stem = name.split('.').next().expect("stem");
        let card = std::fs::read_to_string(dir.join(format!("{stem}.card.md")))
            .with_context(|| format!("dataset card of {name}"))?;
        assert!(card.contains("question_id"), "{card}");
        files.push(out);
    }
    let cli_jsonl = std::fs::read_to_string(&files[0])?;
    let cli_rows = jsonl_rows(&cli_jsonl)?;
    assert_eq!(cli_rows.len(), total);
    for row in &cli_rows {
        check_row(row, true)?;
    }
    // The command line and the route write the same rows.
    assert_eq!(cli_rows, jsonl_rows(&http_jsonl.text)?);
    let cli_csv = std::fs::read_to_string(&files[1])?;
    assert_eq!(cli_csv, http_csv.text);
    assert!(is_parquet(&std::fs::read(&files[2])?));
    let bare = std::fs::read_to_string(&files[3])?;
    for row in jsonl_rows(&bare)? {
        check_row(&row, false)?;
    }
    let typed = std::fs::read_to_string(&files[4])?;
    assert!(typed.starts_with("question_id,"), "--format csv wins");
    texts.extend([cli_jsonl, cli_csv, bare]);

    // No key, no cookie, anywhere.
    for text in &texts {
        assert!(!text.contains(SECRET_KEY), "an API key was exported");
        for cookie in &cookies {
            assert!(
                !text.contains(cookie.as_str()),
                "a voter cookie was exported"
            );
        }
    }
    let parquet_text = String::from_utf8_lossy(&parquet_bytes);
    assert!(!parquet_text.contains(SECRET_KEY));
    assert!(!cookies.iter().any(|c| parquet_text.contains(c.as_str())));

    // Offline leaderboards from every file equal the live one.
    for input in [
        &files[0],
        &files[1],
        &files[2],
        &files[3],
        &http_parquet_path,
    ] {
        let board = offline_board(&["--input", path_str(input)]).await?;
        assert_eq!(board["total_votes"], total as u64, "{}", input.display());
        assert_same_ratings(&input.display().to_string(), &server_bt.json, &board)?;
    }
    let from_db = offline_board(&["--database-url", &db.url]).await?;
    assert_same_ratings("database", &server_bt.json, &from_db)?;
    let elo = offline_board(&["--input", path_str(&files[0]), "--method", "elo"]).await?;
    assert_eq!(elo["method"], "elo");
    assert_same_ratings("elo", &server_elo.json, &elo)?;
    let (csv, _) = arena_ok(&[
        "leaderboard",
        "--input",
        path_str(&files[2]),
        "--format",
        "csv",
    ])
    .await?;
    let records = parse_csv(&csv);
    assert_eq!(
        header_of(&csv),
        "rank,model,rating,rating_lower,rating_upper,votes"
    );
    let expected = ratings(&server_bt.json)?;
    assert_eq!(records.len() - 1, expected.len());
    for (i, record) in records[1..].iter().enumerate() {
        assert_eq!(record[0], (i + 1).to_string());
        let rating: f64 = record[2].parse()?;
        assert!((rating - expected[&record[1]]).abs() <= 0.01, "{record:?}");
        let (lower, upper): (f64, f64) = (record[3].parse()?, record[4].parse()?);
        assert!(lower <= rating && rating <= upper, "{record:?}");
    }
    let (table, _) = arena_ok(&["leaderboard", "--input", path_str(&files[1])]).await?;
    assert!(table.contains("Rank"), "{table}");
    Ok(())
}

/// Every read path of the export (SQLite's direct reader without
/// conversations, its pages with them, PostgreSQL's rows) leaves out a
/// flagged voter's votes and gives each battle its number of turns.
#[tokio::test]
async fn exports_leave_out_flagged_voters_and_count_turns() -> Result<()> {
    let db = TestDb::new().await?;
    let arena = Arena::start(&db).await?;
    play(&arena, 6).await?;
    // A battle of two turns.
    let voter = arena.voter();
    let (id, _) = voter.full_battle("Name a prime").await?;
    let second = voter
        .post(
            &format!("/api/v1/battles/{id}/turns"),
            json!({"prompt": "And the next one?"}),
        )
        .await?;
    ensure!(second.status == StatusCode::CREATED, "{}", second.text);
    voter.events(&id).await?;
    let vote = voter.vote(&id, "tie").await?;
    ensure!(vote.status == StatusCode::OK, "vote: {}", vote.text);

    let admin = arena.admin();
    let export = |conversations: bool| {
        let admin = admin.clone();
        async move {
            let path = format!("/api/v1/export?conversations={conversations}");
            let response = admin.get(&path).await?;
            ensure!(response.status == StatusCode::OK, "{}", response.text);
            jsonl_rows(&response.text)
        }
    };
    let before = export(false).await?;
    ensure!(before.len() >= 6, "{} rows", before.len());
    let turns: Vec<u64> = before.iter().filter_map(|r| r["turn"].as_u64()).collect();
    assert_eq!(turns.iter().filter(|&&t| t == 2).count(), 1, "{turns:?}");
    assert_eq!(turns.len(), before.len());

    // The first vote's voter is flagged (as the anomaly detector would).
    execute_sql(
        &db,
        "INSERT INTO flagged_voters (voter, flagged_at, reason) \
         SELECT voter, 0, 'test' FROM votes WHERE id = (SELECT MIN(id) FROM votes)",
    )
    .await?;
    let flagged_judge = before[0]["judge"].clone();
    let bare = export(false).await?;
    let full = export(true).await?;
    assert!(
        bare.len() < before.len(),
        "{} of {}",
        bare.len(),
        before.len()
    );
    assert_eq!(bare.len(), full.len());
    for (b, f) in bare.iter().zip(&full) {
        assert_ne!(b["judge"], flagged_judge, "{b}");
        assert_eq!(b["question_id"], f["question_id"]);
        assert_eq!(b["turn"], f["turn"], "{b}");
        let asked = f["conversation_a"]
            .as_array()
            .map(|messages| messages.iter().filter(|m| m["role"] == "user").count());
        assert_eq!(f["turn"].as_u64(), asked.map(|n| n as u64), "{f}");
    }
    Ok(())
}

#[tokio::test]
async fn export_then_import_round_trips_and_is_idempotent() -> Result<()> {
    let source = TestDb::new().await?;
    let arena = Arena::start(&source).await?;
    play(&arena, 8).await?;
    let server_bt = arena.voter().get("/api/v1/leaderboard").await?;
    let total = server_bt.json["total_votes"].as_u64().context("total")?;
    assert!(total >= 6, "{}", server_bt.text);
    let dir = &source.dir.0;
    let jsonl = dir.join("votes.jsonl");
    let parquet = dir.join("votes.parquet");
    for out in [&jsonl, &parquet] {
        arena_ok(&[
            "export",
            "--database-url",
            &source.url,
            "--out",
            path_str(out),
        ])
        .await?;
    }

    for file in [&jsonl, &parquet] {
        let target = TestDb::new().await?;
        let file = path_str(file);
        let (_, stderr) = arena_ok(&["import", file, "--database-url", &target.url]).await?;
        assert!(
            stderr.contains(&format!("imported {total} of {total} battles")),
            "{stderr}"
        );
        let counts = [
            count_rows(&target, "battles").await?,
            count_rows(&target, "votes").await?,
            count_rows(&target, "turns").await?,
        ];
        assert_eq!(counts[..2], [total as i64, total as i64]);
        assert_eq!(counts[2], total as i64, "one turn per battle");
        let imported = offline_board(&["--database-url", &target.url]).await?;
        assert_eq!(imported["total_votes"], total);
        assert_same_ratings(file, &server_bt.json, &imported)?;

        // Twice: nothing more.
        let (_, stderr) = arena_ok(&["import", file, "--database-url", &target.url]).await?;
        assert!(
            stderr.contains(&format!("imported 0 of {total} battles")),
            "{stderr}"
        );
        let again = [
            count_rows(&target, "battles").await?,
            count_rows(&target, "votes").await?,
            count_rows(&target, "turns").await?,
        ];
        assert_eq!(again, counts, "a second import adds nothing");

        // Exported again, the rows keep their ids, winners and conversations.
        let back = target.dir.0.join("back.jsonl");
        arena_ok(&[
            "export",
            "--database-url",
            &target.url,
            "--out",
            path_str(&back),
        ])
        .await?;
        let key = |row: &Value| {
            (
                row["question_id"].clone(),
                row["model_a"].clone(),
                row["model_b"].clone(),
                row["winner"].clone(),
                row["tstamp"].clone(),
                row["conversation_a"].clone(),
                row["conversation_b"].clone(),
            )
        };
        let original: Vec<_> = jsonl_rows(&std::fs::read_to_string(&jsonl)?)?
            .iter()
            .map(key)
            .collect();
        let round_trip: Vec<_> = jsonl_rows(&std::fs::read_to_string(&back)?)?
            .iter()
            .map(key)
            .collect();
        assert_eq!(round_trip, original);
    }
    Ok(())
}

fn conversation(prompt: &str, answer: &str) -> Value {
    json!([{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}])
}

#[tokio::test]
async fn imports_fastchat_lmarena_and_jsonl_files() -> Result<()> {
    let db = TestDb::new().await?;
    let dir = &db.dir.0;

    // FastChat's clean_battle_*.json: one array, `tie (bothbad)` spelling.
    let fastchat: Vec<Value> = ["model_a", "model_b", "tie", "tie (bothbad)", "model_a"]
        .iter()
        .enumerate()
        .map(|(i, winner)| {
            json!({
                "question_id": format!("fc-{i}"),
                "model_a": (["vicuna-13b", "koala-13b"][i % 2]),
                "model_b": (["alpaca-13b", "vicuna-13b"][i % 2]),
                "winner": winner,
                "judge": format!("arena_user_{i}"),
                "turn": 1,
                "anony": true,
                "language": "English",
                "tstamp": 1_682_000_000.25 + i as f64,
                "conversation_a": conversation("hi", "hello from a"),
                "conversation_b": conversation("hi", "hello from b"),
            })
        })
        .collect();
    let fastchat_path = dir.join("clean_battle.json");
    std::fs::write(&fastchat_path, serde_json::to_string_pretty(&fastchat)?)?;

    // LMArena / Hugging Face style CSV: pandas index column, `tie (bothbad)`,
    // Python booleans.
    let lmarena = "\
,question_id,model_a,model_b,winner,judge,turn,anony,language,tstamp,is_code\n\
0,hf-1,gpt-4o,claude-3-opus,model_a,j1,1,True,English,1714000000.5,True\n\
1,hf-2,gpt-4o,claude-3-opus,tie (bothbad),j2,1,True,English,1714000001.5,False\n\
2,hf-3,claude-3-opus,llama-3-70b,model_b,j3,2,True,English,1714000002.5,True\n\
3,hf-4,llama-3-70b,gpt-4o,tie,j4,1,True,German,1714000003.5,False\n\
4,hf-5,gpt-4o,llama-3-70b,model_a,j5,1,True,English,1714000004.5,True\n";
    let csv_path = dir.join("arena-human-preference.csv");
    std::fs::write(&csv_path, lmarena)?;

    // JSONL without ids: a stable id is derived, so re-import is idempotent.
    let jsonl: String = [
        json!({"model_a": "m-one", "model_b": "m-two", "winner": "model_a", "tstamp": 1_700_000_000.0}),
        json!({"model_a": "m-two", "model_b": "m-three", "winner": "both_bad", "tstamp": 1_700_000_001.0}),
        json!({"model_a": "m-three", "model_b": "m-one", "winner": "tie (bothbad)", "tstamp": 1_700_000_002.0}),
    ]
    .iter()
    .map(|row| format!("{row}\n"))
    .collect();
    let jsonl_path = dir.join("battles.jsonl");
    std::fs::write(&jsonl_path, jsonl)?;

    let mut expected = 0i64;
    for (path, rows) in [(&fastchat_path, 5), (&csv_path, 5), (&jsonl_path, 3)] {
        let file = path_str(path);
        let (_, stderr) = arena_ok(&["import", file, "--database-url", &db.url]).await?;
        assert!(
            stderr.contains(&format!("imported {rows} of {rows} battles")),
            "{file}: {stderr}"
        );
        expected += rows;
        let board = offline_board(&["--database-url", &db.url]).await?;
        assert_eq!(board["total_votes"], expected, "{file}");
        let (_, stderr) = arena_ok(&["import", file, "--database-url", &db.url]).await?;
        assert!(stderr.contains("imported 0 of"), "{file}: {stderr}");
        assert_eq!(count_rows(&db, "votes").await?, expected);
    }
    assert_eq!(
        count_rows(&db, "turns").await?,
        5,
        "only FastChat rows had conversations"
    );

    // Our own Parquet export, imported into a second database.
    let exported = dir.join("all.parquet");
    arena_ok(&[
        "export",
        "--database-url",
        &db.url,
        "--out",
        path_str(&exported),
    ])
    .await?;
    let second = TestDb::new().await?;
    let (_, stderr) =
        arena_ok(&["import", path_str(&exported), "--database-url", &second.url]).await?;
    assert!(
        stderr.contains(&format!("imported {expected} of {expected} battles")),
        "{stderr}"
    );
    assert_same_ratings(
        "parquet import",
        &offline_board(&["--database-url", &db.url]).await?,
        &offline_board(&["--database-url", &second.url]).await?,
    )?;

    // Categories from the CSV's boolean column, offline.
    let coding = offline_board(&["--input", path_str(&csv_path), "--category", "is_code"]).await?;
    assert_eq!(coding["total_votes"], 3, "three rows have is_code True");
    assert_eq!(coding["category"], "is_code");
    let all = offline_board(&["--input", path_str(&csv_path)]).await?;
    assert_eq!(all["total_votes"], 5);
    let imported_coding =
        offline_board(&["--database-url", &db.url, "--category", "is_code"]).await?;
    assert_eq!(imported_coding["total_votes"], 3, "the tag was imported");

    // Imported votes count on the live leaderboard.
    let arena = Arena::start_with(
        &db,
        ServeOptions {
            demo: false,
            ..ServeOptions::default()
        },
    )
    .await?;
    let live = arena.voter().get("/api/v1/leaderboard").await?;
    assert_eq!(live.status, StatusCode::OK, "{}", live.text);
    assert_eq!(live.json["total_votes"], expected);
    let names: BTreeSet<String> = ratings(&live.json)?.into_keys().collect();
    for name in ["vicuna-13b", "gpt-4o", "m-three"] {
        assert!(names.contains(name), "{name} missing from {names:?}");
    }
    assert_same_ratings(
        "live after import",
        &live.json,
        &offline_board(&["--database-url", &db.url]).await?,
    )?;
    // Imported models are known but never drawn for new battles.
    let models = arena.admin().get("/api/v1/admin/models").await?;
    assert!(
        models.json["models"]
            .as_array()
            .context("models")?
            .iter()
            .all(|m| m["enabled"] == false),
        "{}",
        models.text
    );
    Ok(())
}

#[tokio::test]
async fn a_malformed_row_imports_nothing() -> Result<()> {
    let db = TestDb::new().await?;
    arena_ok(&["migrate", "--database-url", &db.url]).await?;
    let dir = &db.dir.0;
    let jsonl = [
        r#"{"question_id":"ok-1","model_a":"x","model_b":"y","winner":"model_a"}"#,
        r#"{"question_id":"ok-2","model_a":"y","model_b":"z","winner":"tie"}"#,
        r#"{"question_id":"bad-3","model_a":"x","model_b":"z","winner":"draw"}"#,
        r#"{"question_id":"ok-4","model_a":"z","model_b":"x","winner":"model_b"}"#,
    ]
    .join("\n");
    let jsonl_path = dir.join("bad.jsonl");
    std::fs::write(&jsonl_path, jsonl)?;
    let csv_path = dir.join("bad.csv");
    std::fs::write(
        &csv_path,
        "question_id,model_a,model_b,winner\nc1,x,y,model_a\nc2,x,y,draw\nc3,y,x,tie\n",
    )?;
    for path in [&jsonl_path, &csv_path] {
        let output = arena_cli(&["import", path_str(path), "--database-url", &db.url]).await?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "import of a bad file succeeded");
        assert!(stderr.contains("line 3"), "{stderr}");
        assert!(stderr.contains("draw"), "{stderr}");
        // The offline leaderboard refuses the same row, naming it.
        let output = arena_cli(&["leaderboard", "--input", path_str(path)]).await?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success(),
            "leaderboard of a bad file succeeded"
        );
        assert!(
            stderr.contains("line 3") && stderr.contains("draw"),
            "{stderr}"
        );
        for table in ["battles", "votes", "turns", "models"] {
            assert_eq!(
                count_rows(&db, table).await?,
                0,
                "{table} after a failed import"
            );
        }
    }
    Ok(())
}

#[tokio::test]
async fn large_imports_skip_known_rows_across_chunks() -> Result<()> {
    let db = TestDb::new().await?;
    let dir = &db.dir.0;
    let line = |i: usize| {
        let models = ["alpha", "beta", "gamma", "delta"];
        format!(
            "{}\n",
            json!({
                "question_id": format!("q{i:05}"),
                "model_a": models[i % 4],
                "model_b": models[(i + 1 + i / 4 % 3) % 4],
                "winner": CANONICAL_WINNERS[i % 4],
                "tstamp": 1_700_000_000.0 + i as f64,
            })
        )
    };
    // The first 1,200 rows, then all 2,500 plus a repeated id: the second
    // import's chunks are all-known, mixed, and all-new.
    let first: String = (0..1200).map(line).collect();
    let mut all: String = (0..2500).map(line).collect();
    all.push_str(&line(2499));
    let (first_path, all_path) = (dir.join("first.jsonl"), dir.join("all.jsonl"));
    std::fs::write(&first_path, first)?;
    std::fs::write(&all_path, all)?;
    let (_, stderr) =
        arena_ok(&["import", path_str(&first_path), "--database-url", &db.url]).await?;
    assert!(stderr.contains("imported 1200 of 1200 battles"), "{stderr}");
    let (_, stderr) = arena_ok(&["import", path_str(&all_path), "--database-url", &db.url]).await?;
    assert!(
        stderr.contains("imported 1300 of 2501 battles")
            && stderr.contains("(1201 already present)"),
        "{stderr}"
    );
    assert_eq!(count_rows(&db, "battles").await?, 2500);
    assert_eq!(count_rows(&db, "votes").await?, 2500);
    // Every stored vote belongs to a stored battle, and the order of votes
    // is the file's: Elo from the database equals Elo from the file.
    let from_db = offline_board(&["--database-url", &db.url, "--method", "elo"]).await?;
    // The file repeats its last row; the database holds it once.
    let dedup = dir.join("dedup.jsonl");
    std::fs::write(&dedup, (0..2500).map(line).collect::<String>())?;
    let expected = offline_board(&["--input", path_str(&dedup), "--method", "elo"]).await?;
    assert_same_ratings("elo order", &expected, &from_db)?;
    Ok(())
}
