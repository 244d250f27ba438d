//! One module per family of routes, each exposing `router()`.

pub mod admin;
pub mod battles;
pub mod export;
pub mod leaderboard;
pub mod pages;
pub mod system;
