//! Arena's HTTP surface: the vote-collection API (battles, events, votes),
//! the admin registry, the public leaderboard, the research export, the
//! OpenAPI document, metrics and the embedded web pages.
//!
//! Architecture invariant: this is the only crate that knows HTTP routes and
//! wire types. It reaches the database only through `arena-storage`, model
//! backends only through `arena-dispatch`, and ratings only through
//! `arena-rating`. No response carries a model's identity for a battle
//! before that battle's vote.

pub mod auth;
pub mod battles;
pub mod categories;
pub mod error;
pub mod export;
pub mod extract;
pub mod leaderboard;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod registry;
pub mod routes;
pub mod sampling;
pub mod state;
pub mod validate;
pub mod voter;
pub mod wire;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::HeaderValue;
use axum::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::response::IntoResponse;
use axum::{Router, middleware};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use error::{ApiError, ApiResult};
pub use sampling::SamplingMode;
pub use state::{ApiConfig, AppState};

/// The strict policy of every response: only our own scripts and styles, no
/// inline code, no framing. Model output can therefore never run script even
/// if a rendering bug let markup through.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; \
                   frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

/// The whole application: every route with its middleware.
pub fn app(state: AppState) -> Router {
    let secure = state.config().secure_cookies;
    let with_voter = Router::new()
        .merge(routes::battles::router())
        .merge(routes::pages::router())
        .layer(middleware::from_fn(move |req, next| {
            voter::ensure_voter(secure, req, next)
        }));
    let body_limit = state.config().max_body_bytes;
    Router::new()
        .merge(with_voter)
        .merge(routes::admin::router().route_layer(middleware::from_fn(deadline)))
        .merge(routes::leaderboard::router().route_layer(middleware::from_fn(deadline)))
        .merge(routes::export::router())
        .merge(routes::system::router().route_layer(middleware::from_fn(deadline)))
        .fallback(|| async { ApiError::NotFound("route") })
        .with_state(state)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn(metrics::track))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                let path = request
                    .extensions()
                    .get::<MatchedPath>()
                    .map(MatchedPath::as_str)
                    .unwrap_or("unmatched");
                tracing::info_span!("request", method = %request.method(), path = %path)
            }),
        )
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal(std::io::Error::other("handler panicked")).into_response()
        }))
        .layer(SetResponseHeaderLayer::overriding(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
}

/// Longest time a non-streaming request may take before it is answered 503.
const REQUEST_DEADLINE: Duration = Duration::from_secs(30);

/// Middleware: answers a JSON 503 when a handler takes longer than
/// [`REQUEST_DEADLINE`] (a stalled database, a client trickling its body), so
/// that no request holds a connection forever. Streaming routes (battle
/// events, exports) are exempt: their length is their purpose.
pub async fn deadline(request: Request, next: middleware::Next) -> axum::response::Response {
    match tokio::time::timeout(REQUEST_DEADLINE, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout.into_response(),
    }
}

/// Serves the application on `listener` until `shutdown` completes, then
/// drains in-flight requests. Background housekeeping (expiring unvoted
/// battles, pruning rate-limit keys) runs alongside.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    metrics::install();
    let housekeeping = tokio::spawn(housekeeping(state.clone()));
    let tasks = state.tasks().clone();
    let app = app(state);
    let result = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await;
    housekeeping.abort();
    // Generation was cancelled by the shutdown signal; let every turn record
    // its final state, within reason.
    tasks.close();
    if tokio::time::timeout(Duration::from_secs(10), tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            running = tasks.len(),
            "some turns did not finish recording before exit"
        );
    }
    result
}

async fn housekeeping(state: AppState) {
    // Sweep often enough that a battle expires close to its deadline.
    let every = (state.config().battle_expiry / 4)
        .clamp(Duration::from_millis(250), Duration::from_secs(30));
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        state.limits().prune();
        metrics::upkeep();
        let expiry = i64::try_from(state.config().battle_expiry.as_millis()).unwrap_or(i64::MAX);
        let now = state::now_ms();
        match state
            .storage()
            .expire_battles(now.saturating_sub(expiry), now)
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "expired unvoted battles"),
            Err(error) => tracing::warn!(%error, "could not expire battles"),
        }
    }
}

/// Serves `/metrics` alone, without a token, on a separate listener (meant
/// for an address only the monitoring system reaches).
pub async fn serve_metrics(listener: TcpListener) -> std::io::Result<()> {
    metrics::install();
    let app = Router::new().route(
        "/metrics",
        axum::routing::get(|| async {
            (
                [(
                    axum::http::header::CONTENT_TYPE,
                    "text/plain; version=0.0.4",
                )],
                metrics::render(),
            )
        }),
    );
    axum::serve(listener, app).await
}
