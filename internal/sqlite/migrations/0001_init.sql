-- PolyBot schema, version 1. Table and column names are the seed's and are
-- shared with internal/postgres. Decimals are exact TEXT, timestamps are
-- INTEGER microseconds since the Unix epoch (UTC), booleans are 0/1, IDs are
-- canonical UUID text. The default tiers are inserted by the Go side of this
-- migration (from polybot.DefaultTiers), in the same transaction.

CREATE TABLE polybot_tiers (
    name                TEXT PRIMARY KEY,
    display_name        TEXT NOT NULL,
    price_usd_monthly   TEXT NOT NULL DEFAULT '0.00',
    monthly_trade_limit INTEGER NOT NULL CHECK (monthly_trade_limit >= 0),
    max_trade_size_usd  TEXT NOT NULL,
    max_daily_loss_usd  TEXT NOT NULL,
    max_positions       INTEGER NOT NULL CHECK (max_positions >= 0),
    features            TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(features)),
    updated_at          INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER))
) STRICT;

CREATE TABLE polybot_users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at    INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER))
) STRICT;

CREATE INDEX polybot_users_created ON polybot_users (created_at, email);

CREATE TABLE polybot_user_profiles (
    id                      TEXT PRIMARY KEY REFERENCES polybot_users (id) ON DELETE CASCADE,
    display_name            TEXT NOT NULL DEFAULT '',
    email                   TEXT NOT NULL DEFAULT '',

    subscription_tier       TEXT NOT NULL DEFAULT 'free' REFERENCES polybot_tiers (name),
    subscription_expires_at INTEGER,
    monthly_trade_limit     INTEGER NOT NULL DEFAULT 100,
    trades_this_month       INTEGER NOT NULL DEFAULT 0 CHECK (trades_this_month >= 0),
    quota_month             TEXT NOT NULL DEFAULT '',

    max_trade_size_usd      TEXT NOT NULL DEFAULT '50.00',
    max_daily_loss_usd      TEXT NOT NULL DEFAULT '100.00',
    max_positions           INTEGER NOT NULL DEFAULT 5,

    features_enabled        TEXT NOT NULL DEFAULT '{"copy_trading":false,"news_arbitrage":true,"cross_platform":false,"single_platform":true,"overlapping_arb":false}'
                            CHECK (json_valid(features_enabled)),

    created_at              INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    updated_at              INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    last_active_at          INTEGER,

    onboarding_completed    INTEGER NOT NULL DEFAULT 0 CHECK (onboarding_completed IN (0, 1)),
    accepted_terms_at       INTEGER
) STRICT;

CREATE INDEX polybot_user_profiles_tier ON polybot_user_profiles (subscription_tier);

CREATE TABLE polybot_user_config (
    id                         INTEGER PRIMARY KEY,
    user_id                    TEXT NOT NULL UNIQUE REFERENCES polybot_users (id) ON DELETE CASCADE,

    dry_run                    INTEGER NOT NULL DEFAULT 1,
    min_profit_pct             TEXT NOT NULL DEFAULT '1.00',
    max_trade_size_usd         TEXT NOT NULL DEFAULT '50.00',
    max_daily_loss_usd         TEXT NOT NULL DEFAULT '100.00',

    enable_copy_trading        INTEGER NOT NULL DEFAULT 0,
    enable_single_platform_arb INTEGER NOT NULL DEFAULT 1,
    enable_cross_platform_arb  INTEGER NOT NULL DEFAULT 0,
    enable_overlapping_arb     INTEGER NOT NULL DEFAULT 0,
    enable_news_arbitrage      INTEGER NOT NULL DEFAULT 1,

    enable_polymarket          INTEGER NOT NULL DEFAULT 1,
    enable_kalshi              INTEGER NOT NULL DEFAULT 1,
    enable_alpaca              INTEGER NOT NULL DEFAULT 0,
    enable_ibkr                INTEGER NOT NULL DEFAULT 0,

    notify_on_trade            INTEGER NOT NULL DEFAULT 1,
    notify_on_opportunity      INTEGER NOT NULL DEFAULT 0,
    notify_daily_summary       INTEGER NOT NULL DEFAULT 1,
    notification_channels      TEXT NOT NULL DEFAULT '["email"]' CHECK (json_valid(notification_channels)),

    advanced_config            TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(advanced_config)),

    created_at                 INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    updated_at                 INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER))
) STRICT;

CREATE TABLE polybot_user_secrets (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id               TEXT NOT NULL REFERENCES polybot_users (id) ON DELETE CASCADE,
    platform              TEXT NOT NULL,

    api_key_encrypted     TEXT,
    api_secret_encrypted  TEXT,
    private_key_encrypted TEXT,
    passphrase_encrypted  TEXT,
    additional_config     TEXT CHECK (additional_config IS NULL OR json_valid(additional_config)),
    fingerprint           TEXT NOT NULL DEFAULT '',

    is_paper              INTEGER NOT NULL DEFAULT 1,
    is_active             INTEGER NOT NULL DEFAULT 1,
    last_validated_at     INTEGER,
    validation_status     TEXT NOT NULL DEFAULT 'pending',

    created_at            INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    updated_at            INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),

    UNIQUE (user_id, platform, is_paper)
) STRICT;

CREATE TABLE polybot_user_data_keys (
    user_id       TEXT PRIMARY KEY REFERENCES polybot_users (id) ON DELETE CASCADE,
    master_key_id TEXT NOT NULL,
    wrapped       BLOB NOT NULL,
    created_at    INTEGER NOT NULL,
    rotated_at    INTEGER NOT NULL
) STRICT;

-- id is the SHA-256 (hex) of the cookie value; the value is never stored.
CREATE TABLE polybot_sessions (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES polybot_users (id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
) STRICT;

CREATE INDEX polybot_sessions_user ON polybot_sessions (user_id);
CREATE INDEX polybot_sessions_expires ON polybot_sessions (expires_at);

CREATE TABLE polybot_api_tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES polybot_users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    expires_at   INTEGER
) STRICT;

CREATE INDEX polybot_api_tokens_user ON polybot_api_tokens (user_id, created_at);

-- The audit log is append-only and hash-chained (see polybot.AuditEntry).
-- user_id has no foreign key: the log outlives what it talks about.
CREATE TABLE polybot_audit_log (
    seq        INTEGER PRIMARY KEY,
    user_id    TEXT,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL DEFAULT '',
    details    TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
) STRICT;

CREATE INDEX polybot_audit_log_user ON polybot_audit_log (user_id, seq);

CREATE TRIGGER polybot_audit_log_no_update BEFORE UPDATE ON polybot_audit_log
BEGIN
    SELECT RAISE(ABORT, 'polybot_audit_log is append-only');
END;

CREATE TRIGGER polybot_audit_log_no_delete BEFORE DELETE ON polybot_audit_log
BEGIN
    SELECT RAISE(ABORT, 'polybot_audit_log is append-only');
END;

-- The chain head: the last appended seq and hash. It only ever moves forward
-- by one, so a deleted tail row is visible to `polybot audit verify`.
CREATE TABLE polybot_audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
) STRICT;

CREATE TRIGGER polybot_audit_head_forward BEFORE UPDATE ON polybot_audit_head
WHEN NEW.id != OLD.id OR NEW.seq != OLD.seq + 1
BEGIN
    SELECT RAISE(ABORT, 'polybot_audit_head only moves forward by one');
END;

CREATE TRIGGER polybot_audit_head_no_delete BEFORE DELETE ON polybot_audit_head
BEGIN
    SELECT RAISE(ABORT, 'polybot_audit_head cannot be deleted');
END;
