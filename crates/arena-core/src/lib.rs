//! The vocabulary every Arena crate speaks: who won a battle and which side of
//! the screen an answer sits on.
//!
//! This crate is deliberately tiny and knows nothing of I/O, HTTP, SQL or
//! model backends, so that the rating, storage, dispatch and API crates can
//! share these types without depending on one another.

mod winner;

pub use winner::{ParseWinnerError, Side, Winner};
