//! The SQL shared by both backends, written once.
//!
//! `impl_storage!` expands to an implementation of [`crate::Storage`] for a
//! concrete store and sqlx database type. Every statement uses `$n`
//! placeholders and syntax both SQLite (≥ 3.35) and PostgreSQL accept, so
//! the two backends cannot drift apart. Write transactions start with a write
//! so that SQLite takes its write lock up front (waiting on `busy_timeout`)
//! instead of failing on a read-to-write upgrade.

macro_rules! select_models {
    ($tail:literal) => {
        concat!(
            "SELECT id, name, base_url, upstream_model, api_key, api_key_env, organization, license, params, system_prompt, weight, enabled, source, created_at, updated_at, retired_at FROM models ",
            $tail
        )
    };
}
pub(crate) use select_models;

/// Helpers of `import_battles`: multi-row statements and battle ids.
///
/// One statement per table per chunk of rows, instead of three per battle,
/// is what makes a million-row import take seconds: the per-statement cost
/// (a round trip on PostgreSQL, a VM setup on SQLite) is paid once per
/// chunk.
pub(crate) mod import {
    use std::collections::HashMap;

    use uuid::Uuid;

    use crate::types::ImportSummary;

    /// The state of one import across its chunks.
    pub(crate) struct Run {
        /// Model ids by name, looked up or created once each.
        pub(crate) models: HashMap<String, Uuid>,
        pub(crate) ids: BattleIds,
        pub(crate) statements: Statements,
        pub(crate) summary: ImportSummary,
    }

    impl Run {
        /// A new import on `backend`, its battle ids stamped with `now_ms`.
        pub(crate) fn new(backend: &str, now_ms: i64) -> Self {
            Run {
                models: HashMap::new(),
                ids: BattleIds::new(now_ms),
                statements: Statements::new(backend),
                summary: ImportSummary::default(),
            }
        }
    }

    /// Rows per multi-row INSERT. At 8 parameters a row this stays far below
    /// SQLite's limit of 32,766 bound parameters and PostgreSQL's 65,535.
    pub(crate) const CHUNK: usize = 1000;

    /// `prefix VALUES (…), (…) suffix`, `rows` tuples of `row`, where each
    /// `?` in `row` becomes the next `$n`, or stays `?` when `anonymous`.
    ///
    /// SQLite gets anonymous `?` parameters, the one exception to the
    /// module's `$n` rule: sqlx binds a named or numbered SQLite parameter by
    /// asking `sqlite3_bind_parameter_name`, which walks the statement's list
    /// of names, so binding n numbered parameters costs O(n²) — 86 % of a
    /// 100,000-row import at 8,000 parameters per statement.
    fn values(prefix: &str, row: &str, rows: usize, suffix: &str, anonymous: bool) -> String {
        let mut sql = String::with_capacity(prefix.len() + suffix.len() + rows * (row.len() + 32));
        sql.push_str(prefix);
        sql.push_str(" VALUES ");
        let mut n = 0usize;
        for i in 0..rows {
            if i > 0 {
                sql.push_str(", ");
            }
            for c in row.chars() {
                if c == '?' && !anonymous {
                    n += 1;
                    sql.push('$');
                    sql.push_str(&n.to_string());
                } else {
                    sql.push(c);
                }
            }
        }
        sql.push_str(suffix);
        sql
    }

    /// The import statements, built once per row count (in practice: the
    /// full chunk and the last, shorter one).
    pub(crate) struct Statements {
        cache: std::collections::HashMap<(&'static str, usize), String>,
        anonymous: bool,
    }

    impl Statements {
        /// Statements for a backend (`"sqlite"` or `"postgres"`).
        pub(crate) fn new(backend: &str) -> Self {
            Self {
                cache: std::collections::HashMap::new(),
                anonymous: backend == "sqlite",
            }
        }

        fn get(&mut self, table: &'static str, rows: usize) -> sqlx::AssertSqlSafe<String> {
            let anonymous = self.anonymous;
            let sql = self.cache.entry((table, rows)).or_insert_with(|| match table {
                "battles" => values(
                    "INSERT INTO battles (id, voter, model_a, model_b, state, categories, external_id, created_at, updated_at)",
                    "(?, ?, ?, ?, 'voted', ?, ?, ?, ?)",
                    rows,
                    " ON CONFLICT (external_id) DO NOTHING",
                    anonymous,
                ),
                "present" => {
                    // `$1, $2, …` (or `?, ?, …`) from one-column tuples.
                    let list = values("", "?", rows, "", anonymous);
                    format!("SELECT id FROM battles WHERE id IN ({})", list.trim_start_matches(" VALUES "))
                }
                "votes" => values(
                    "INSERT INTO votes (battle_id, winner, voter, created_at)",
                    "(?, ?, ?, ?)",
                    rows,
                    "",
                    anonymous,
                ),
                _ => values(
                    "INSERT INTO turns (battle_id, turn, prompt, answer_a, answer_b, status_a, status_b, created_at)",
                    "(?, ?, ?, ?, ?, 'done', 'done', ?)",
                    rows,
                    "",
                    anonymous,
                ),
            });
            sqlx::AssertSqlSafe(sql.clone())
        }

        /// Inserts `rows` battles (8 binds each), skipping known external ids.
        pub(crate) fn battles(&mut self, rows: usize) -> sqlx::AssertSqlSafe<String> {
            self.get("battles", rows)
        }

        /// Which of `rows` battle ids (1 bind each) are stored.
        pub(crate) fn present(&mut self, rows: usize) -> sqlx::AssertSqlSafe<String> {
            self.get("present", rows)
        }

        /// Inserts `rows` votes (4 binds each).
        pub(crate) fn votes(&mut self, rows: usize) -> sqlx::AssertSqlSafe<String> {
            self.get("votes", rows)
        }

        /// Inserts `rows` turns (6 binds each).
        pub(crate) fn turns(&mut self, rows: usize) -> sqlx::AssertSqlSafe<String> {
            self.get("turns", rows)
        }
    }

    /// Time-ordered battle ids (UUID version 7 layout): consecutive ids sort
    /// together, so a large import appends to the primary-key index instead
    /// of writing to random pages of it. The random bits are drawn once per
    /// import, and a counter orders the ids within it.
    pub(crate) struct BattleIds {
        base: u128,
        counter: u64,
    }

    impl BattleIds {
        /// Ids stamped with `now_ms`.
        pub(crate) fn new(now_ms: i64) -> Self {
            let random = Uuid::new_v4().as_u128();
            let millis = (now_ms.max(0) as u128) & ((1 << 48) - 1);
            let rand_a = (random >> 64) & 0xFFF;
            // 48 bits of time, version 7, 12 random bits, variant 0b10, then
            // a 38-bit counter above 24 random bits.
            let base =
                (millis << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | (random & 0xFF_FFFF);
            Self { base, counter: 0 }
        }

        /// The next id.
        pub(crate) fn next(&mut self) -> Uuid {
            let id = self.base | (u128::from(self.counter & ((1 << 38) - 1)) << 24);
            self.counter += 1;
            Uuid::from_u128(id)
        }
    }
}

macro_rules! impl_storage {
    ($store:ident, $db:ty) => {
        mod queries_impl {
            use std::collections::HashMap;
            use std::sync::Arc;

            use arena_core::{Side, Winner};
            use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
            use secrecy::SecretString;
            use sqlx::Row;
            use sqlx::types::Json;
            use uuid::Uuid;

            use super::$store;
            use crate::error::{violated_constraint, BattleConflict, Result, StorageError};
            use crate::export;
            use crate::queries::select_models;
            use crate::rows;
            use crate::types::*;

            type DbRow = <$db as sqlx::Database>::Row;

            fn model_from_row(row: &DbRow) -> Result<Model> {
                let params: Json<serde_json::Value> = row.try_get("params")?;
                let api_key: Option<String> = row.try_get("api_key")?;
                let source: String = row.try_get("source")?;
                Ok(Model {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    base_url: row.try_get("base_url")?,
                    upstream_model: row.try_get("upstream_model")?,
                    api_key: api_key.map(SecretString::from),
                    api_key_env: row.try_get("api_key_env")?,
                    organization: row.try_get("organization")?,
                    license: row.try_get("license")?,
                    params: params.0,
                    system_prompt: row.try_get("system_prompt")?,
                    weight: row.try_get("weight")?,
                    enabled: row.try_get("enabled")?,
                    source: rows::model_source(&source)?,
                    created_at_ms: row.try_get("created_at")?,
                    updated_at_ms: row.try_get("updated_at")?,
                    retired_at_ms: row.try_get("retired_at")?,
                })
            }

            fn side_from_row(row: &DbRow, side: Side) -> Result<SideAnswer> {
                let (text, status, error, latency, tokens) = match side {
                    Side::A => ("answer_a", "status_a", "error_a", "latency_a_ms", "tokens_a"),
                    Side::B => ("answer_b", "status_b", "error_b", "latency_b_ms", "tokens_b"),
                };
                let status: String = row.try_get(status)?;
                Ok(SideAnswer {
                    text: row.try_get(text)?,
                    status: rows::side_status(&status)?,
                    error: row.try_get(error)?,
                    latency_ms: row.try_get(latency)?,
                    tokens: row.try_get(tokens)?,
                })
            }

            fn turn_from_row(row: &DbRow) -> Result<Turn> {
                Ok(Turn {
                    turn: rows::turn_number(row.try_get::<i64, _>("turn")?)?,
                    prompt: row.try_get("prompt")?,
                    a: side_from_row(row, Side::A)?,
                    b: side_from_row(row, Side::B)?,
                    created_at_ms: row.try_get("created_at")?,
                })
            }

            const TURN_COLUMNS: &str = "SELECT turn, prompt, answer_a, answer_b, status_a, status_b, error_a, error_b, latency_a_ms, latency_b_ms, tokens_a, tokens_b, created_at FROM turns WHERE battle_id = $1 ORDER BY turn";

            /// Maps a unique violation on the name to `DuplicateName`.
            fn name_conflict(error: sqlx::Error, name: &str) -> StorageError {
                match violated_constraint(&error) {
                    Some(_) => StorageError::DuplicateName(name.to_owned()),
                    None => StorageError::from(error),
                }
            }

            impl $store {
                /// The export as SQLite pages, two in flight (crate::export).
                fn export_pages(
                    &self,
                    models: Arc<HashMap<Uuid, String>>,
                    scope: Arc<export::Scope>,
                ) -> BoxStream<'_, Result<ExportBattle>> {
                    futures_util::stream::iter(export::page_ranges(scope.after, scope.last, scope.page_size()))
                        .map(move |(from, up_to)| {
                            let (models, scope) = (models.clone(), scope.clone());
                            async move { self.export_page(&models, &scope, from, up_to).await }
                        })
                        .buffered(export::PAGES_IN_FLIGHT)
                        .map_ok(|page| futures_util::stream::iter(page.into_iter().map(Ok)))
                        .try_flatten()
                        .boxed()
                }

                /// One page of the export: votes `from < id <= up_to`, with their
                /// turns (one query) when conversations are asked for.
                async fn export_page(
                    &self,
                    models: &HashMap<Uuid, String>,
                    scope: &export::Scope,
                    from: i64,
                    up_to: i64,
                ) -> Result<Vec<ExportBattle>> {
                    let mut query = sqlx::query_scalar(export::sqlite_page_sql(scope)).bind(from).bind(up_to);
                    if let Some((since, until)) = scope.time {
                        query = query.bind(since).bind(until);
                    }
                    let text: String = query.fetch_one(&self.pool).await?;
                    let mut page = export::parse_page(&text, models, scope.category.as_deref())?;
                    if scope.conversations && !page.is_empty() {
                        let rows = sqlx::query(export::PAGE_TURNS).bind(from).bind(up_to).fetch_all(&self.pool).await?;
                        let mut turns: HashMap<Uuid, Vec<Turn>> = HashMap::new();
                        for row in &rows {
                            turns.entry(row.try_get("battle_id")?).or_default().push(turn_from_row(row)?);
                        }
                        for battle in &mut page {
                            battle.turns = turns.remove(&battle.battle_id).unwrap_or_default();
                        }
                    }
                    Ok(page)
                }

                /// The export as one ordered row stream (PostgreSQL, crate::export).
                fn export_rows(
                    &self,
                    models: Arc<HashMap<Uuid, String>>,
                    scope: export::Scope,
                ) -> BoxStream<'_, Result<ExportBattle>> {
                    let mut query = sqlx::query(export::rows_sql(&scope)).bind(scope.after).bind(scope.last);
                    if let Some((since, until)) = scope.time {
                        query = query.bind(since).bind(until);
                    }
                    let (category, conversations) = (scope.category, scope.conversations);
                    query
                        .fetch(&self.pool)
                        .map_err(StorageError::from)
                        .try_filter_map(move |row| {
                            let vote = || -> Result<Option<ExportBattle>> {
                                let categories: Json<Vec<String>> = row.try_get("categories")?;
                                let winner: String = row.try_get("winner")?;
                                export::StoredVote {
                                    battle_id: row.try_get("battle_id")?,
                                    external_id: row.try_get("external_id")?,
                                    model_a: row.try_get("model_a")?,
                                    model_b: row.try_get("model_b")?,
                                    winner: winner.into(),
                                    voter: row.try_get("voter")?,
                                    voted_at_ms: row.try_get("created_at")?,
                                    pair_probability: row.try_get("pair_probability")?,
                                    categories: categories.0,
                                    turn_count: row.try_get("turn_count")?,
                                }
                                .resolve(&models, category.as_deref())
                            };
                            std::future::ready(vote())
                        })
                        .and_then(move |mut battle| async move {
                            if conversations {
                                let turns = sqlx::query(TURN_COLUMNS).bind(battle.battle_id).fetch_all(&self.pool).await?;
                                battle.turns = turns.iter().map(turn_from_row).collect::<Result<_>>()?;
                            }
                            Ok(battle)
                        })
                        .boxed()
                }

                /// Explains why a guarded state transition touched no row.
                async fn battle_conflict<'e, E>(executor: E, id: Uuid) -> StorageError
                where
                    E: sqlx::Executor<'e, Database = $db>,
                {
                    let state: std::result::Result<Option<String>, sqlx::Error> =
                        sqlx::query_scalar("SELECT state FROM battles WHERE id = $1")
                            .bind(id)
                            .fetch_optional(executor)
                            .await;
                    match state {
                        Err(error) => StorageError::from(error),
                        Ok(None) => StorageError::NotFound("battle"),
                        Ok(Some(state)) => match rows::battle_state(&state) {
                            Ok(BattleState::Voted) => StorageError::Battle(BattleConflict::AlreadyVoted),
                            Ok(BattleState::Generating) => StorageError::Battle(BattleConflict::NotReady),
                            Ok(BattleState::Failed) => StorageError::Battle(BattleConflict::Failed),
                            Ok(BattleState::Expired) => StorageError::Battle(BattleConflict::Expired),
                            Ok(BattleState::Ready) => StorageError::Corrupt("battle is ready but refused the change".into()),
                            Err(error) => error,
                        },
                    }
                }

                async fn model_ids_by_name(
                    tx: &mut <$db as sqlx::Database>::Connection,
                    cache: &mut HashMap<String, Uuid>,
                    name: &str,
                    now_ms: i64,
                ) -> Result<Uuid> {
                    if let Some(id) = cache.get(name) {
                        return Ok(*id);
                    }
                    let existing: Option<Uuid> = sqlx::query_scalar("SELECT id FROM models WHERE name = $1")
                        .bind(name)
                        .fetch_optional(&mut *tx)
                        .await?;
                    let id = match existing {
                        Some(id) => id,
                        None => {
                            let id = Uuid::new_v4();
                            sqlx::query(
                                "INSERT INTO models (id, name, base_url, upstream_model, params, weight, enabled, source, created_at, updated_at) \
                                 VALUES ($1, $2, '', $2, $3, 0, false, 'import', $4, $4)",
                            )
                            .bind(id)
                            .bind(name)
                            .bind(Json(serde_json::json!({})))
                            .bind(now_ms)
                            .execute(&mut *tx)
                            .await?;
                            id
                        }
                    };
                    cache.insert(name.to_owned(), id);
                    Ok(id)
                }

                /// The import itself, in one transaction on `conn` (see
                /// `import_battles`).
                async fn import_in_transaction(
                    conn: &mut sqlx::pool::PoolConnection<$db>,
                    mut chunks: BoxStream<'static, Result<Vec<ImportedBattle>>>,
                    now_ms: i64,
                ) -> Result<ImportSummary> {
                    let mut tx = sqlx::Connection::begin(&mut **conn).await?;
                    // Take the write lock first (see the module comment).
                    sqlx::query("UPDATE settings SET value = value WHERE key = 'import_lock'").execute(&mut *tx).await?;
                    if Self::BACKEND == "sqlite" {
                        // The voter index takes one insert per vote at a
                        // random place; once it outgrows SQLite's default
                        // 2 MB page cache every insert reads a page back from
                        // the file (a 1M-row export re-imported: 12.8 s,
                        // half of it in system calls). 64 MB keeps it in
                        // memory. This connection belongs to `arena import`
                        // and closes with it.
                        sqlx::query("PRAGMA cache_size = -65536").execute(&mut *tx).await?;
                    }
                    let mut run = crate::queries::import::Run::new(Self::BACKEND, now_ms);
                    // An error item returns here: dropping `tx` rolls back.
                    while let Some(received) = chunks.next().await {
                        let received = received?;
                        // Models first: a file names few models, so one
                        // lookup each (cached across chunks).
                        for battle in &received {
                            for name in [&battle.model_a, &battle.model_b] {
                                Self::model_ids_by_name(&mut *tx, &mut run.models, name, now_ms).await?;
                            }
                        }
                        // Consuming the rows statement by statement frees
                        // each part's strings once written.
                        let mut rows = received.into_iter();
                        loop {
                            let part: Vec<ImportedBattle> = rows.by_ref().take(crate::queries::import::CHUNK).collect();
                            if part.is_empty() {
                                break;
                            }
                            Self::insert_part(&mut *tx, &mut run, part).await?;
                        }
                    }
                    tx.commit().await?;
                    Ok(run.summary)
                }

                /// Inserts one statement's worth of imported battles (their
                /// models already known), skipping stored external ids.
                async fn insert_part(
                    tx: &mut <$db as sqlx::Database>::Connection,
                    run: &mut crate::queries::import::Run,
                    part: Vec<ImportedBattle>,
                ) -> Result<()> {
                    let keyed: Vec<(Uuid, ImportedBattle)> = part.into_iter().map(|b| (run.ids.next(), b)).collect();
                    // Idempotency: a row whose external id is stored (or
                    // repeated earlier in the file) is skipped. The count
                    // of inserted rows settles the usual cases (a new
                    // file: all of them; a file imported before: none)
                    // without sending rows back, which costs a thread
                    // hand-off per row; only a mixed chunk asks which ids
                    // went in.
                    let mut query = sqlx::query(run.statements.battles(keyed.len()));
                    for (id, battle) in &keyed {
                        query = query
                            .bind(*id)
                            .bind(battle.voter.as_str())
                            .bind(run.models[&battle.model_a])
                            .bind(run.models[&battle.model_b])
                            .bind(Json(&battle.categories))
                            .bind(battle.external_id.as_str())
                            .bind(battle.voted_at_ms)
                            .bind(battle.voted_at_ms);
                    }
                    let affected = query.execute(&mut *tx).await?.rows_affected() as usize;
                    let inserted: std::collections::HashSet<Uuid> = if affected == keyed.len() {
                        keyed.iter().map(|(id, _)| *id).collect()
                    } else if affected == 0 {
                        std::collections::HashSet::new()
                    } else {
                        let mut query = sqlx::query(run.statements.present(keyed.len()));
                        for (id, _) in &keyed {
                            query = query.bind(*id);
                        }
                        query.fetch_all(&mut *tx).await?.iter().map(|row| row.try_get::<Uuid, _>("id")).collect::<std::result::Result<_, _>>()?
                    };
                    run.summary.inserted += inserted.len() as u64;
                    run.summary.skipped += (keyed.len() - inserted.len()) as u64;
                    if inserted.is_empty() {
                        return Ok(());
                    }
                    // Votes in file order: their ids give Elo its order.
                    let fresh: Vec<&(Uuid, ImportedBattle)> = keyed.iter().filter(|(id, _)| inserted.contains(id)).collect();
                    let mut query = sqlx::query(run.statements.votes(fresh.len()));
                    for (id, battle) in &fresh {
                        query = query
                            .bind(*id)
                            .bind(battle.winner.as_str())
                            .bind(battle.voter.as_str())
                            .bind(battle.voted_at_ms);
                    }
                    query.execute(&mut *tx).await?;
                    let turns: Vec<(Uuid, i64, &(String, String, String), i64)> = fresh
                        .iter()
                        .flat_map(|(id, battle)| {
                            battle.turns.iter().enumerate().map(move |(index, turn)| (*id, index as i64 + 1, turn, battle.voted_at_ms))
                        })
                        .collect();
                    for part in turns.chunks(crate::queries::import::CHUNK) {
                        let mut query = sqlx::query(run.statements.turns(part.len()));
                        for (id, number, (prompt, answer_a, answer_b), at) in part {
                            query = query
                                .bind(*id)
                                .bind(*number)
                                .bind(prompt.as_str())
                                .bind(answer_a.as_str())
                                .bind(answer_b.as_str())
                                .bind(*at);
                        }
                        query.execute(&mut *tx).await?;
                    }
                    Ok(())
                }
            }

            #[async_trait::async_trait]
            impl crate::Storage for $store {
                fn backend(&self) -> &'static str {
                    Self::BACKEND
                }

                async fn migrate(&self) -> Result<()> {
                    Self::migrator().run(&self.writer).await.map_err(StorageError::Migration)
                }

                async fn ping(&self) -> Result<()> {
                    sqlx::query("SELECT 1").execute(&self.pool).await?;
                    Ok(())
                }

                async fn setting(&self, key: &str) -> Result<Option<String>> {
                    Ok(sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                        .bind(key)
                        .fetch_optional(&self.pool)
                        .await?)
                }

                async fn setting_or_insert(&self, key: &str, value: &str) -> Result<String> {
                    sqlx::query("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
                        .bind(key)
                        .bind(value)
                        .execute(&self.writer)
                        .await?;
                    self.setting(key).await?.ok_or(StorageError::NotFound("setting"))
                }

                async fn insert_model(&self, model: NewModel, now_ms: i64) -> Result<Model> {
                    let id = Uuid::new_v4();
                    sqlx::query(
                        "INSERT INTO models (id, name, base_url, upstream_model, api_key, api_key_env, organization, license, params, system_prompt, weight, enabled, source, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)",
                    )
                    .bind(id)
                    .bind(&model.name)
                    .bind(&model.base_url)
                    .bind(&model.upstream_model)
                    .bind(expose(&model.api_key))
                    .bind(&model.api_key_env)
                    .bind(&model.organization)
                    .bind(&model.license)
                    .bind(Json(&model.params))
                    .bind(&model.system_prompt)
                    .bind(model.weight)
                    .bind(model.enabled)
                    .bind(model.source.as_str())
                    .bind(now_ms)
                    .execute(&self.writer)
                    .await
                    .map_err(|e| name_conflict(e, &model.name))?;
                    self.get_model(id).await
                }

                async fn list_models(&self) -> Result<Vec<Model>> {
                    let rows = sqlx::query(select_models!("ORDER BY created_at, name"))
                        .fetch_all(&self.pool)
                        .await?;
                    rows.iter().map(model_from_row).collect()
                }

                async fn get_model(&self, id: Uuid) -> Result<Model> {
                    let row = sqlx::query(select_models!("WHERE id = $1"))
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?
                        .ok_or(StorageError::NotFound("model"))?;
                    model_from_row(&row)
                }

                async fn update_model(&self, id: Uuid, patch: ModelPatch, now_ms: i64) -> Result<Model> {
                    let mut tx = self.writer.begin().await?;
                    let touched = sqlx::query("UPDATE models SET updated_at = $2 WHERE id = $1")
                        .bind(id)
                        .bind(now_ms)
                        .execute(&mut *tx)
                        .await?;
                    if touched.rows_affected() == 0 {
                        return Err(StorageError::NotFound("model"));
                    }
                    let row = sqlx::query(select_models!("WHERE id = $1"))
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await?;
                    let next = patch.apply(&model_from_row(&row)?);
                    sqlx::query(
                        "UPDATE models SET name = $2, base_url = $3, upstream_model = $4, api_key = $5, api_key_env = $6, organization = $7, \
                         license = $8, params = $9, system_prompt = $10, weight = $11, enabled = $12 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(&next.name)
                    .bind(&next.base_url)
                    .bind(&next.upstream_model)
                    .bind(expose(&next.api_key))
                    .bind(&next.api_key_env)
                    .bind(&next.organization)
                    .bind(&next.license)
                    .bind(Json(&next.params))
                    .bind(&next.system_prompt)
                    .bind(next.weight)
                    .bind(next.enabled)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| name_conflict(e, &next.name))?;
                    tx.commit().await?;
                    self.get_model(id).await
                }

                async fn retire_model(&self, id: Uuid, now_ms: i64) -> Result<()> {
                    let done = sqlx::query(
                        "UPDATE models SET retired_at = COALESCE(retired_at, $2), enabled = false, updated_at = $2 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(now_ms)
                    .execute(&self.writer)
                    .await?;
                    if done.rows_affected() == 0 {
                        return Err(StorageError::NotFound("model"));
                    }
                    Ok(())
                }

                async fn insert_token(&self, token_hash: &str, role: TokenRole, label: &str, now_ms: i64) -> Result<Uuid> {
                    let id = Uuid::new_v4();
                    sqlx::query("INSERT INTO access_tokens (id, token_hash, role, label, created_at) VALUES ($1, $2, $3, $4, $5)")
                        .bind(id)
                        .bind(token_hash)
                        .bind(role.as_str())
                        .bind(label)
                        .bind(now_ms)
                        .execute(&self.writer)
                        .await?;
                    Ok(id)
                }

                async fn token_role(&self, token_hash: &str) -> Result<Option<TokenRole>> {
                    let role: Option<String> =
                        sqlx::query_scalar("SELECT role FROM access_tokens WHERE token_hash = $1 AND revoked_at IS NULL")
                            .bind(token_hash)
                            .fetch_optional(&self.pool)
                            .await?;
                    Ok(role.as_deref().and_then(TokenRole::parse))
                }

                async fn create_battle(&self, battle: NewBattle) -> Result<()> {
                    let mut tx = self.writer.begin().await?;
                    sqlx::query(
                        "INSERT INTO battles (id, voter, model_a, model_b, pair_probability, state, categories, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, 'generating', $6, $7, $7)",
                    )
                    .bind(battle.id)
                    .bind(&battle.voter)
                    .bind(battle.model_a)
                    .bind(battle.model_b)
                    .bind(battle.pair_probability)
                    .bind(Json(&battle.categories))
                    .bind(battle.now_ms)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query("INSERT INTO turns (battle_id, turn, prompt, created_at) VALUES ($1, 1, $2, $3)")
                        .bind(battle.id)
                        .bind(&battle.prompt)
                        .bind(battle.now_ms)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(())
                }

                async fn get_battle(&self, id: Uuid) -> Result<Battle> {
                    let mut battle = self.get_battle_head(id).await?;
                    let turns = sqlx::query(TURN_COLUMNS).bind(id).fetch_all(&self.pool).await?;
                    battle.turns = turns.iter().map(turn_from_row).collect::<Result<_>>()?;
                    Ok(battle)
                }

                async fn get_battle_head(&self, id: Uuid) -> Result<Battle> {
                    let row = sqlx::query(
                        "SELECT b.id, b.voter, b.model_a, b.model_b, b.pair_probability, b.state, b.identity_leak, b.categories, \
                         b.created_at, b.updated_at, v.winner FROM battles b LEFT JOIN votes v ON v.battle_id = b.id WHERE b.id = $1",
                    )
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                    .ok_or(StorageError::NotFound("battle"))?;
                    let state: String = row.try_get("state")?;
                    let categories: Json<Vec<String>> = row.try_get("categories")?;
                    let winner: Option<String> = row.try_get("winner")?;
                    Ok(Battle {
                        id: row.try_get("id")?,
                        voter: row.try_get("voter")?,
                        model_a: row.try_get("model_a")?,
                        model_b: row.try_get("model_b")?,
                        pair_probability: row.try_get("pair_probability")?,
                        state: rows::battle_state(&state)?,
                        identity_leak: row.try_get("identity_leak")?,
                        categories: categories.0,
                        created_at_ms: row.try_get("created_at")?,
                        updated_at_ms: row.try_get("updated_at")?,
                        turns: Vec::new(),
                        winner: winner.as_deref().map(rows::winner).transpose()?,
                    })
                }

                async fn add_turn(&self, id: Uuid, prompt: &str, now_ms: i64) -> Result<u32> {
                    let mut tx = self.writer.begin().await?;
                    let moved = sqlx::query("UPDATE battles SET state = 'generating', updated_at = $2 WHERE id = $1 AND state = 'ready'")
                        .bind(id)
                        .bind(now_ms)
                        .execute(&mut *tx)
                        .await?;
                    if moved.rows_affected() == 0 {
                        return Err(Self::battle_conflict(&mut *tx, id).await);
                    }
                    let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(turn), 0) FROM turns WHERE battle_id = $1")
                        .bind(id)
                        .fetch_one(&mut *tx)
                        .await?;
                    let next = last + 1;
                    sqlx::query("INSERT INTO turns (battle_id, turn, prompt, created_at) VALUES ($1, $2, $3, $4)")
                        .bind(id)
                        .bind(next)
                        .bind(prompt)
                        .bind(now_ms)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    rows::turn_number(next)
                }

                async fn save_partial_answer(&self, id: Uuid, turn: u32, side: Side, text: &str) -> Result<()> {
                    let sql = match side {
                        Side::A => "UPDATE turns SET answer_a = $3 WHERE battle_id = $1 AND turn = $2 AND status_a = 'streaming'",
                        Side::B => "UPDATE turns SET answer_b = $3 WHERE battle_id = $1 AND turn = $2 AND status_b = 'streaming'",
                    };
                    sqlx::query(sql).bind(id).bind(i64::from(turn)).bind(text).execute(&self.writer).await?;
                    Ok(())
                }

                async fn finish_side(&self, id: Uuid, turn: u32, outcome: SideOutcome, now_ms: i64) -> Result<BattleState> {
                    // Two statements: the side's result (returning both sides'
                    // statuses), then the battle's leak flag and state in one update.
                    let sql = match outcome.side {
                        Side::A => "UPDATE turns SET answer_a = $3, status_a = $4, error_a = $5, latency_a_ms = $6, tokens_a = $7 \
                                    WHERE battle_id = $1 AND turn = $2 RETURNING status_a, status_b",
                        Side::B => "UPDATE turns SET answer_b = $3, status_b = $4, error_b = $5, latency_b_ms = $6, tokens_b = $7 \
                                    WHERE battle_id = $1 AND turn = $2 RETURNING status_a, status_b",
                    };
                    let mut tx = self.writer.begin().await?;
                    let row = sqlx::query(sql)
                        .bind(id)
                        .bind(i64::from(turn))
                        .bind(&outcome.text)
                        .bind(outcome.status.as_str())
                        .bind(&outcome.error)
                        .bind(outcome.latency_ms)
                        .bind(outcome.tokens)
                        .fetch_optional(&mut *tx)
                        .await?
                        .ok_or(StorageError::NotFound("turn"))?;
                    let a = rows::side_status(&row.try_get::<String, _>("status_a")?)?;
                    let b = rows::side_status(&row.try_get::<String, _>("status_b")?)?;
                    let next = match (a, b) {
                        (SideStatus::Streaming, _) | (_, SideStatus::Streaming) => None,
                        (SideStatus::Failed, _) | (_, SideStatus::Failed) => Some(BattleState::Failed),
                        _ => Some(BattleState::Ready),
                    };
                    // Only a generating battle moves on (an expired one stays expired).
                    let state: String = sqlx::query_scalar(
                        "UPDATE battles SET identity_leak = (identity_leak OR $2), \
                         state = CASE WHEN $3 AND state = 'generating' THEN $4 ELSE state END, \
                         updated_at = CASE WHEN $3 AND state = 'generating' THEN $5 ELSE updated_at END \
                         WHERE id = $1 RETURNING state",
                    )
                    .bind(id)
                    .bind(outcome.identity_leak)
                    .bind(next.is_some())
                    .bind(next.unwrap_or(BattleState::Generating).as_str())
                    .bind(now_ms)
                    .fetch_one(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    rows::battle_state(&state)
                }

                async fn record_vote(&self, id: Uuid, winner: Winner, voter: &str, now_ms: i64) -> Result<i64> {
                    let mut tx = self.writer.begin().await?;
                    let moved = sqlx::query("UPDATE battles SET state = 'voted', updated_at = $2 WHERE id = $1 AND state = 'ready'")
                        .bind(id)
                        .bind(now_ms)
                        .execute(&mut *tx)
                        .await?;
                    if moved.rows_affected() == 0 {
                        return Err(Self::battle_conflict(&mut *tx, id).await);
                    }
                    let inserted: std::result::Result<i64, sqlx::Error> =
                        sqlx::query_scalar("INSERT INTO votes (battle_id, winner, voter, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
                            .bind(id)
                            .bind(winner.as_str())
                            .bind(voter)
                            .bind(now_ms)
                            .fetch_one(&mut *tx)
                            .await;
                    let vote_id = match inserted {
                        Ok(vote_id) => vote_id,
                        // The unique index is the final judge of one vote per battle.
                        Err(error) if violated_constraint(&error).is_some() => {
                            return Err(StorageError::Battle(BattleConflict::AlreadyVoted));
                        }
                        Err(error) => return Err(error.into()),
                    };
                    tx.commit().await?;
                    Ok(vote_id)
                }

                async fn expire_battles(&self, before_ms: i64, now_ms: i64) -> Result<u64> {
                    let done = sqlx::query(
                        "UPDATE battles SET state = 'expired', updated_at = $2 WHERE state IN ('generating', 'ready') AND updated_at < $1",
                    )
                    .bind(before_ms)
                    .bind(now_ms)
                    .execute(&self.writer)
                    .await?;
                    Ok(done.rows_affected())
                }

                fn counted_votes(&self, filter: VoteFilter) -> BoxStream<'_, Result<CountedVote>> {
                    let category = filter.category.clone();
                    sqlx::query(
                        "SELECT v.id AS vote_id, ma.name AS model_a, mb.name AS model_b, v.winner, b.categories, b.pair_probability \
                         FROM votes v JOIN battles b ON b.id = v.battle_id \
                         JOIN models ma ON ma.id = b.model_a JOIN models mb ON mb.id = b.model_b \
                         WHERE b.identity_leak = false AND v.created_at >= $1 AND v.created_at < $2 AND v.id > $3 \
                         AND NOT EXISTS (SELECT 1 FROM flagged_voters f WHERE f.voter = v.voter) \
                         ORDER BY v.id",
                    )
                    .bind(filter.since_ms.unwrap_or(i64::MIN))
                    .bind(filter.until_ms.unwrap_or(i64::MAX))
                    .bind(filter.after_id.unwrap_or(i64::MIN))
                    .fetch(&self.pool)
                    .map_err(StorageError::from)
                    .and_then(|row| async move {
                        let categories: Json<Vec<String>> = row.try_get("categories")?;
                        let winner: String = row.try_get("winner")?;
                        Ok(CountedVote {
                            id: row.try_get("vote_id")?,
                            model_a: row.try_get("model_a")?,
                            model_b: row.try_get("model_b")?,
                            winner: rows::winner(&winner)?,
                            categories: categories.0,
                            pair_probability: row.try_get("pair_probability")?,
                        })
                    })
                    .try_filter(move |vote| {
                        std::future::ready(rows::in_category(&vote.categories, category.as_deref()))
                    })
                    .boxed()
                }

                fn export_battles(&self, filter: VoteFilter, conversations: bool) -> BoxStream<'_, Result<ExportBattle>> {
                    let start = async move {
                        let models: HashMap<Uuid, String> = sqlx::query("SELECT id, name FROM models")
                            .fetch_all(&self.pool)
                            .await?
                            .iter()
                            .map(|row| Ok((row.try_get("id")?, row.try_get("name")?)))
                            .collect::<Result<_>>()?;
                        let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM votes").fetch_one(&self.pool).await?;
                        let timed = filter.since_ms.is_some() || filter.until_ms.is_some();
                        let scope = export::Scope {
                            after: filter.after_id.unwrap_or(0),
                            last,
                            time: timed.then(|| (filter.since_ms.unwrap_or(i64::MIN), filter.until_ms.unwrap_or(i64::MAX))),
                            category: filter.category,
                            conversations,
                        };
                        Ok::<_, StorageError>((Arc::new(models), scope))
                    };
                    // See crate::export and crate::sqlite_export: on SQLite
                    // the direct reader, or pages of JSON; rows on PostgreSQL.
                    futures_util::stream::once(start)
                        .map_ok(move |(models, scope)| {
                            if Self::BACKEND != "sqlite" {
                                self.export_rows(models, scope)
                            } else if let Some(path) = self.direct_export(&scope) {
                                crate::sqlite_export::stream(path, models, scope)
                            } else {
                                self.export_pages(models, Arc::new(scope))
                            }
                        })
                        .try_flatten()
                        .boxed()
                }

                async fn import_battles(
                    &self,
                    chunks: BoxStream<'static, Result<Vec<ImportedBattle>>>,
                    now_ms: i64,
                ) -> Result<ImportSummary> {
                    let mut conn = self.writer.acquire().await?;
                    if Self::BACKEND == "sqlite" {
                        // A bulk load whose references this function builds
                        // itself: model ids looked up or inserted first,
                        // votes pointing at the battles of the same chunk.
                        // SQLite's foreign-key checks would add a B-tree
                        // search per reference (three per battle) to the
                        // load. The setting is per connection, cannot
                        // change inside a transaction, and is restored
                        // below whatever happens.
                        sqlx::query("PRAGMA foreign_keys = OFF").execute(&mut *conn).await?;
                    }
                    let imported = Self::import_in_transaction(&mut conn, chunks, now_ms).await;
                    if Self::BACKEND == "sqlite" {
                        let restored = sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await;
                        // The import's own error, if any, says more.
                        let summary = imported?;
                        restored?;
                        return Ok(summary);
                    }
                    imported
                }
                async fn flag_voter(&self, voter: &str, reason: &str, now_ms: i64) -> Result<()> {
                    sqlx::query("INSERT INTO flagged_voters (voter, flagged_at, reason) VALUES ($1, $2, $3) ON CONFLICT (voter) DO NOTHING")
                        .bind(voter)
                        .bind(now_ms)
                        .bind(reason)
                        .execute(&self.writer)
                        .await?;
                    Ok(())
                }

                async fn flagged_voters(&self) -> Result<Vec<FlaggedVoter>> {
                    let rows = sqlx::query(
                        "SELECT f.voter, f.flagged_at, f.reason, (SELECT COUNT(*) FROM votes v WHERE v.voter = f.voter) AS votes \
                         FROM flagged_voters f ORDER BY f.flagged_at, f.voter",
                    )
                    .fetch_all(&self.pool)
                    .await?;
                    rows.iter()
                        .map(|row| {
                            Ok(FlaggedVoter {
                                voter: row.try_get("voter")?,
                                flagged_at_ms: row.try_get("flagged_at")?,
                                reason: row.try_get("reason")?,
                                votes: row.try_get("votes")?,
                            })
                        })
                        .collect()
                }

                async fn categories(&self) -> Result<Vec<String>> {
                    let rows: Vec<Json<Vec<String>>> =
                        sqlx::query_scalar("SELECT DISTINCT categories FROM battles WHERE state = 'voted'")
                            .fetch_all(&self.pool)
                            .await?;
                    let mut all: Vec<String> = rows.into_iter().flat_map(|c| c.0).collect();
                    all.sort();
                    all.dedup();
                    Ok(all)
                }
            }
        }
    };
}
pub(crate) use impl_storage;
