//! The battle lifecycle: live event fan-out, generation, and replay.

pub mod events;
pub mod hub;
pub mod runner;
