-- Arena schema, PostgreSQL dialect. Mirrors migrations/sqlite/0001_initial.sql.
-- Times are Unix milliseconds (BIGINT) in both dialects: portable, sortable,
-- and exported as float seconds without conversion.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE models (
    id              UUID PRIMARY KEY,
    name            TEXT NOT NULL,
    base_url        TEXT NOT NULL,
    upstream_model  TEXT NOT NULL,
    api_key         TEXT,
    api_key_env     TEXT,
    organization    TEXT,
    license         TEXT,
    params          JSONB NOT NULL DEFAULT '{}',
    system_prompt   TEXT,
    weight          DOUBLE PRECISION NOT NULL DEFAULT 1.0 CHECK (weight >= 0),
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    source          TEXT NOT NULL DEFAULT 'api' CHECK (source IN ('api', 'config', 'demo', 'import')),
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    retired_at      BIGINT
);
CREATE UNIQUE INDEX models_name_key ON models (name);

CREATE TABLE access_tokens (
    id          UUID PRIMARY KEY,
    token_hash  TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'researcher')),
    label       TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE UNIQUE INDEX access_tokens_hash_key ON access_tokens (token_hash);

CREATE TABLE battles (
    id                UUID PRIMARY KEY,
    voter             TEXT NOT NULL,
    model_a           UUID NOT NULL REFERENCES models (id),
    model_b           UUID NOT NULL REFERENCES models (id),
    pair_probability  DOUBLE PRECISION,
    state             TEXT NOT NULL CHECK (state IN ('generating', 'ready', 'voted', 'failed', 'expired')),
    identity_leak     BOOLEAN NOT NULL DEFAULT FALSE,
    categories        JSONB NOT NULL DEFAULT '[]',
    external_id       TEXT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    CHECK (model_a <> model_b OR external_id IS NOT NULL)
);
CREATE UNIQUE INDEX battles_external_id_key ON battles (external_id);
CREATE INDEX battles_state_updated_idx ON battles (state, updated_at);

CREATE TABLE turns (
    battle_id        UUID NOT NULL REFERENCES battles (id) ON DELETE CASCADE,
    turn             BIGINT NOT NULL CHECK (turn >= 1),
    prompt           TEXT NOT NULL,
    answer_a         TEXT NOT NULL DEFAULT '',
    answer_b         TEXT NOT NULL DEFAULT '',
    status_a         TEXT NOT NULL DEFAULT 'streaming' CHECK (status_a IN ('streaming', 'done', 'failed')),
    status_b         TEXT NOT NULL DEFAULT 'streaming' CHECK (status_b IN ('streaming', 'done', 'failed')),
    error_a          TEXT,
    error_b          TEXT,
    latency_a_ms     BIGINT,
    latency_b_ms     BIGINT,
    tokens_a         BIGINT,
    tokens_b         BIGINT,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (battle_id, turn)
);

CREATE TABLE votes (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    battle_id   UUID NOT NULL REFERENCES battles (id),
    winner      TEXT NOT NULL CHECK (winner IN ('model_a', 'model_b', 'tie', 'both_bad')),
    voter       TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
-- The database is the final judge of "one vote per battle".
CREATE UNIQUE INDEX votes_battle_id_key ON votes (battle_id);
CREATE INDEX votes_created_at_idx ON votes (created_at);

CREATE TABLE flagged_voters (
    voter       TEXT PRIMARY KEY,
    flagged_at  BIGINT NOT NULL,
    reason      TEXT NOT NULL
);
CREATE INDEX votes_voter_idx ON votes (voter);
