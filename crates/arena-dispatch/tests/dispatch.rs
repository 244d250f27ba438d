//! End-to-end tests of the dispatcher against the mock upstream, a real
//! HTTP server started in-process on a free loopback port.

use std::time::{Duration, Instant};

use arena_core::Side;
use arena_dispatch::{
    BackendSpec, CancellationToken, ChatMessage, DispatchConfig, Dispatcher, FailureKind,
    GenerationParams, SideStats, StreamingMode, TurnEvent, TurnRequest, demo_answer,
};
use futures_util::future::join_all;
use serde_json::Value;

/// Starts a mock; returns its `/v1` root.
async fn mock() -> String {
    let addr = arena_mock_upstream::spawn().await.expect("mock starts");
    format!("http://{addr}/v1")
}

fn config() -> DispatchConfig {
    DispatchConfig {
        connect_timeout: Duration::from_secs(1),
        first_token_timeout: Duration::from_millis(700),
        total_timeout: Duration::from_secs(10),
        retry_backoff: Duration::from_millis(10),
        demo_pace: Duration::ZERO,
        ..DispatchConfig::default()
    }
}

fn backend(base_url: &str, model: &str) -> BackendSpec {
    BackendSpec {
        base_url: base_url.to_owned(),
        model: model.to_owned(),
        api_key: None,
        params: GenerationParams::default(),
        system_prompt: None,
    }
}

fn request(base_url: &str, model: &str, prompt: &str) -> TurnRequest {
    TurnRequest {
        backend: backend(base_url, model),
        history: vec![ChatMessage::user(prompt)],
        identity: vec!["Mock Model".into(), "Mock Org".into(), model.into()],
    }
}

/// What one side of a finished turn showed and how it ended.
#[derive(Debug)]
struct Shown {
    text: String,
    end: TurnEvent,
}

impl Shown {
    fn stats(&self) -> &SideStats {
        match &self.end {
            TurnEvent::Done { stats, .. } | TurnEvent::Failed { stats, .. } => stats,
            TurnEvent::Delta { .. } => unreachable!(),
        }
    }

    fn failure_kind(&self) -> Option<FailureKind> {
        match &self.end {
            TurnEvent::Failed { failure, .. } => Some(failure.kind),
            _ => None,
        }
    }
}

async fn run(
    dispatcher: &Dispatcher,
    a: TurnRequest,
    b: TurnRequest,
    cancel: CancellationToken,
) -> Vec<TurnEvent> {
    let mut rx = dispatcher.run_turn(a, b, cancel);
    let mut events = Vec::new();
    while let Some(event) = rx.recv().await {
        events.push(event);
    }
    events
}

/// Checks the invariants of every turn and splits the events by side.
fn shown(events: &[TurnEvent]) -> [Shown; 2] {
    Side::BOTH.map(|side| {
        let mine: Vec<&TurnEvent> = events.iter().filter(|e| e.side() == side).collect();
        let (end, deltas) = mine.split_last().expect("side has events");
        assert!(end.is_terminal(), "{side:?} ends with {end:?}");
        let text: String = deltas
            .iter()
            .map(|e| match e {
                TurnEvent::Delta { text, .. } => text.as_str(),
                other => panic!("two terminal events: {other:?}"),
            })
            .collect();
        let shown = Shown {
            text,
            end: (*end).clone(),
        };
        assert_eq!(
            shown.text,
            shown.stats().answer,
            "deltas add up to the answer"
        );
        shown
    })
}

async fn mock_stats(base_url: &str) -> Value {
    let url = base_url.replace("/v1", "/stats");
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

fn counter(stats: &Value, counter: &str, model: &str) -> u64 {
    stats[counter][model].as_u64().unwrap_or(0)
}

/// Waits until the mock saw `model`'s stream end with `outcome`.
async fn wait_for(base_url: &str, outcome: &str, model: &str) {
    for _ in 0..100 {
        if counter(&mock_stats(base_url).await, outcome, model) > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the mock never saw {model} {outcome}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_answers_arrive_intact() {
    let base = mock().await;
    let dispatcher = Dispatcher::new(config()).unwrap();
    let events = run(
        &dispatcher,
        request(&base, "echo+tag:intact-a", "hello from a"),
        request(
            &base,
            "echo+pace:5+tag:intact-b",
            "and hello from b, a bit slower",
        ),
        CancellationToken::new(),
    )
    .await;
    let [a, b] = shown(&events);
    assert_eq!(a.text, "You said: hello from a");
    assert_eq!(b.text, "You said: and hello from b, a bit slower");
    for side in [&a, &b] {
        assert!(matches!(side.end, TurnEvent::Done { .. }), "{:?}", side.end);
        let stats = side.stats();
        assert!(stats.first_token_ms.is_some());
        assert!(stats.output_tokens.is_some(), "usage was asked for");
        assert!(!stats.identity_leak && !stats.truncated);
    }
    // Live mode: the fast side finishes before the slow one.
    let done_a = events
        .iter()
        .position(|e| matches!(e, TurnEvent::Done { side: Side::A, .. }));
    let done_b = events
        .iter()
        .position(|e| matches!(e, TurnEvent::Done { side: Side::B, .. }));
    assert!(done_a < done_b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_ends_with_the_right_event_and_retries_only_before_text() {
    let base = mock().await;
    let dispatcher = Dispatcher::new(config()).unwrap();
    // (model, expected failure or None for done, requests the mock saw)
    let cases: &[(&str, Option<FailureKind>, u64)] = &[
        ("status:429", Some(FailureKind::RateLimited), 3),
        ("status:500", Some(FailureKind::UpstreamError), 3),
        ("status:503", Some(FailureKind::UpstreamError), 3),
        ("status:400", Some(FailureKind::UpstreamError), 1),
        ("status:401", Some(FailureKind::UpstreamError), 1),
        ("flaky:2", None, 3),
        ("cut:5", Some(FailureKind::StreamCut), 1),
        ("cut:0", Some(FailureKind::StreamCut), 1),
        ("malformed:3", Some(FailureKind::MalformedResponse), 1),
        ("hang", Some(FailureKind::Timeout), 1),
        ("slow-first-token:3000", Some(FailureKind::Timeout), 1),
        ("keepalive", None, 1),
        ("keepalive+pace:5", None, 1),
        ("nostream", None, 1),
    ];
    let turns = cases.iter().map(|(model, _, _)| {
        run(
            &dispatcher,
            request(&base, model, "tell me something long enough to cut"),
            request(&base, &format!("echo+tag:{model}"), "the healthy side"),
            CancellationToken::new(),
        )
    });
    let results = join_all(turns).await;
    let stats = mock_stats(&base).await;
    for ((model, expected, requests), events) in cases.iter().zip(results) {
        let [a, b] = shown(&events);
        assert_eq!(a.failure_kind(), *expected, "{model}: {:?}", a.end);
        assert_eq!(
            b.failure_kind(),
            None,
            "{model}: the other side is unaffected"
        );
        assert_eq!(
            counter(&stats, "requests", model),
            *requests,
            "{model}: requests"
        );
        if expected.is_none() {
            assert_eq!(
                a.text, "You said: tell me something long enough to cut",
                "{model}"
            );
        }
    }
    let [cut, _] = shown(
        &run(
            &dispatcher,
            request(&base, "cut:3+tag:partial", "one two three four five"),
            request(&base, "echo", "x"),
            CancellationToken::new(),
        )
        .await,
    );
    assert_eq!(cut.text, "You said: one ", "text before the cut is kept");
    assert!(cut.stats().first_token_ms.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_port_is_a_connect_failure() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let base = format!("http://127.0.0.1:{port}/v1");
    let dispatcher = Dispatcher::new(config()).unwrap();
    let started = Instant::now();
    let events = run(
        &dispatcher,
        request(&base, "echo", "hi"),
        request("demo://", "demo-beta", "hi"),
        CancellationToken::new(),
    )
    .await;
    let [a, b] = shown(&events);
    assert_eq!(
        a.failure_kind(),
        Some(FailureKind::ConnectFailed),
        "{:?}",
        a.end
    );
    assert!(a.stats().first_token_ms.is_none());
    assert_eq!(b.failure_kind(), None);
    // Two retries after 10 ms and 20 ms.
    assert!(started.elapsed() >= Duration::from_millis(30));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaks_are_flagged() {
    let base = mock().await;
    let dispatcher = Dispatcher::new(config()).unwrap();
    let events = run(
        &dispatcher,
        request(&base, "leak", "who are you?"),
        request(&base, "echo", "who are you?"),
        CancellationToken::new(),
    )
    .await;
    let [a, b] = shown(&events);
    assert!(a.text.starts_with("I am GPT-4 by OpenAI."));
    assert!(a.stats().identity_leak);
    assert!(!b.stats().identity_leak);

    let mut own_name = request(&base, "echo+tag:own", "Say: I am Mock Model");
    own_name.identity = vec!["Mock Model".into()];
    let [own, _] = shown(
        &run(
            &dispatcher,
            own_name,
            request(&base, "echo", "x"),
            CancellationToken::new(),
        )
        .await,
    );
    assert!(own.stats().identity_leak);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_answers_are_cut_and_the_upstream_released() {
    let base = mock().await;
    let dispatcher = Dispatcher::new(DispatchConfig {
        max_answer_chars: 100,
        ..config()
    })
    .unwrap();
    let events = run(
        &dispatcher,
        request(&base, "long:5000+pace:1", "go on"),
        request(&base, "echo", "short"),
        CancellationToken::new(),
    )
    .await;
    let [a, b] = shown(&events);
    assert!(matches!(a.end, TurnEvent::Done { .. }), "{:?}", a.end);
    assert!(a.stats().truncated);
    assert_eq!(a.text.chars().count(), 100);
    assert!(!b.stats().truncated);
    wait_for(&base, "aborted", "long:5000+pace:1").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_total_limit_stops_a_slow_answer() {
    let base = mock().await;
    let dispatcher = Dispatcher::new(DispatchConfig {
        total_timeout: Duration::from_millis(300),
        ..config()
    })
    .unwrap();
    let [a, _] = shown(
        &run(
            &dispatcher,
            request(&base, "long:1000+pace:20", "go on"),
            request(&base, "echo", "short"),
            CancellationToken::new(),
        )
        .await,
    );
    assert_eq!(a.failure_kind(), Some(FailureKind::Timeout));
    assert!(!a.text.is_empty(), "partial text is kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancellation_stops_both_sides() {
    let base = mock().await;
    let dispatcher = Dispatcher::new(config()).unwrap();
    let cancel = CancellationToken::new();
    let started = Instant::now();
    let turn = run(
        &dispatcher,
        request(&base, "long:10000+pace:10+tag:ca", "go"),
        request(&base, "long:10000+pace:10+tag:cb", "go"),
        cancel.clone(),
    );
    let stopper = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        cancel.cancel();
    };
    let (events, ()) = tokio::join!(turn, stopper);
    assert!(started.elapsed() < Duration::from_secs(3));
    for side in shown(&events) {
        assert_eq!(side.failure_kind(), Some(FailureKind::Cancelled));
        assert!(!side.text.is_empty());
    }
    wait_for(&base, "aborted", "long:10000+pace:10+tag:ca").await;
    wait_for(&base, "aborted", "long:10000+pace:10+tag:cb").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paired_mode_reveals_both_sides_at_the_same_pace() {
    let base = mock().await;
    let dispatcher = Dispatcher::new(DispatchConfig {
        streaming_mode: StreamingMode::Paired,
        ..config()
    })
    .unwrap();
    let events = run(
        &dispatcher,
        request(&base, "long:60+tag:fast", "go"),
        request(&base, "long:150+pace:5+tag:slow", "go"),
        CancellationToken::new(),
    )
    .await;
    let [a, b] = shown(&events);
    assert!(matches!(a.end, TurnEvent::Done { .. }) && matches!(b.end, TurnEvent::Done { .. }));
    let first_end = events.iter().position(TurnEvent::is_terminal).unwrap();
    assert!(matches!(
        events[first_end],
        TurnEvent::Done { side: Side::A, .. }
    ));
    // Before the short side ends, text comes in (A, B) pairs of equal
    // length; only the last tick may differ, as the short side runs out.
    let head = &events[..first_end];
    let mut pairs = Vec::new();
    let mut i = 0;
    while let [
        TurnEvent::Delta {
            side: Side::A,
            text: ta,
        },
        TurnEvent::Delta {
            side: Side::B,
            text: tb,
        },
        ..,
    ] = &head[i..]
    {
        pairs.push((ta.chars().count(), tb.chars().count()));
        i += 2;
    }
    assert!(head.len() - i <= 1, "unpaired: {:?}", &head[i..]);
    assert!(pairs.len() >= 2, "{pairs:?}");
    for (na, nb) in &pairs[..pairs.len() - 1] {
        assert_eq!(na, nb, "{pairs:?}");
    }
    // The fast side was held back to the slow side's pace.
    let b_shown_at_a_end: usize = events[..first_end]
        .iter()
        .filter_map(|e| match e {
            TurnEvent::Delta {
                side: Side::B,
                text,
            } => Some(text.chars().count()),
            _ => None,
        })
        .sum();
    assert!(b_shown_at_a_end + 100 >= a.text.chars().count());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_mode_shows_each_answer_whole_after_both_finished() {
    let base = mock().await;
    let dispatcher = Dispatcher::new(DispatchConfig {
        streaming_mode: StreamingMode::Complete,
        ..config()
    })
    .unwrap();
    let events = run(
        &dispatcher,
        request(&base, "echo", "quick one"),
        request(&base, "echo+pace:10", "a slower one with more words"),
        CancellationToken::new(),
    )
    .await;
    let [a, b] = shown(&events);
    assert_eq!(events.len(), 4);
    assert!(matches!(&events[0], TurnEvent::Delta { side: Side::A, text } if *text == a.text));
    assert!(matches!(events[1], TurnEvent::Done { side: Side::A, .. }));
    assert!(matches!(&events[2], TurnEvent::Delta { side: Side::B, text } if *text == b.text));
    assert!(matches!(events[3], TurnEvent::Done { side: Side::B, .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_models_answer_without_network() {
    let dispatcher = Dispatcher::new(config()).unwrap();
    let prompt = "How do I sort a list in Python?";
    let mut a = request("demo://", "demo-alpha", prompt);
    a.identity = vec![
        "Demo Alpha".into(),
        "Arena Demo".into(),
        "demo-alpha".into(),
    ];
    let b = request("demo://", "demo-delta", prompt);
    let [a, b] = shown(&run(&dispatcher, a, b, CancellationToken::new()).await);
    assert_eq!(a.text, demo_answer("demo-alpha", prompt));
    assert_eq!(b.text, demo_answer("demo-delta", prompt));
    assert!(!a.stats().identity_leak && !b.stats().identity_leak);
    assert!(a.stats().output_tokens.unwrap() > 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_prompt_params_and_key_reach_the_upstream() {
    let base = mock().await;
    let dispatcher = Dispatcher::new(config()).unwrap();
    let mut extra = serde_json::Map::new();
    extra.insert("seed".into(), 3.into());
    let mut a = request(&base, "inspect", "second question");
    a.backend.system_prompt = Some("Be brief.".into());
    a.backend.api_key = Some("sk-test".into());
    a.backend.params = GenerationParams {
        temperature: Some(0.5),
        top_p: None,
        max_tokens: Some(7),
        extra,
    };
    a.history = vec![
        ChatMessage::user("first question"),
        ChatMessage::assistant("first answer"),
        ChatMessage::user("second question"),
    ];
    let b = request(&base, "inspect", "only question");
    let [a, b] = shown(&run(&dispatcher, a, b, CancellationToken::new()).await);
    assert_eq!(
        a.text,
        "roles=system,user,assistant,user system=Be brief. auth=Bearer sk-test temperature=0.5 \
         top_p=- max_tokens=7 usage=true extra=seed"
    );
    assert_eq!(
        b.text,
        "roles=user system=- auth=- temperature=- top_p=- max_tokens=- usage=true extra="
    );
}
