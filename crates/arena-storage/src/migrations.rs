//! Migrations embedded in the binary, one list per dialect.
//!
//! They are included with `include_str!` rather than `sqlx::migrate!` so the
//! build needs no sqlx proc-macros (which would compile both database drivers
//! a second time for the host).

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// `(version, description, sql)` of one migration file.
type Source = (i64, &'static str, &'static str);

const SQLITE: &[Source] = &[
    (
        1,
        "initial",
        include_str!("../../../migrations/sqlite/0001_initial.sql"),
    ),
    (
        2,
        "battle turn count",
        include_str!("../../../migrations/sqlite/0002_battle_turn_count.sql"),
    ),
];

const POSTGRES: &[Source] = &[
    (
        1,
        "initial",
        include_str!("../../../migrations/postgres/0001_initial.sql"),
    ),
    (
        2,
        "battle turn count",
        include_str!("../../../migrations/postgres/0002_battle_turn_count.sql"),
    ),
];

fn migrator(sources: &[Source]) -> Migrator {
    let migrations = sources
        .iter()
        .map(|&(version, description, sql)| {
            Migration::new(
                version,
                Cow::Borrowed(description),
                MigrationType::Simple,
                sql.into_sql_str(),
                false,
            )
        })
        .collect();
    Migrator::with_migrations(migrations)
}

/// The SQLite migrations.
pub(crate) fn sqlite() -> Migrator {
    migrator(SQLITE)
}

/// The PostgreSQL migrations.
pub(crate) fn postgres() -> Migrator {
    migrator(POSTGRES)
}
