//! Export, import and the offline leaderboard.
