//! Arena's integration tests: the real `arena` binary on a `127.0.0.1:0`
//! port, against a real database (SQLite by default; PostgreSQL when
//! `ARENA_TEST_BACKEND=postgres`), with real HTTP backends (the built-in
//! demo backend and our mock OpenAI-compatible server process).
//!
//! Build the binaries first (`cargo build --bins`); `scripts/test` does.

mod support;

mod admin;
mod battles;
mod datasets;
mod durability;
mod faults;
mod leaderboard;
mod outages;
mod scale_out;
mod system;
