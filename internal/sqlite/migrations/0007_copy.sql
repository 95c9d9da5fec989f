-- Copy trading (polybot.Leader, CopyRecord). A user's leaders, each with
-- the cursor of the newest leader trade seen, and what the bot did with
-- each leader trade. Money exact TEXT, durations whole seconds,
-- timestamps INTEGER microseconds (UTC).

-- A wallet a user follows. Its id is the user's to choose, unique per
-- user; a user follows an address once. cursor_at/cursor_key: the newest
-- leader trade seen (NULL before the first).
CREATE TABLE polybot_copy_leaders (
    user_id         TEXT NOT NULL REFERENCES polybot_users (id) ON DELETE CASCADE,
    id              TEXT NOT NULL CHECK (length(id) BETWEEN 1 AND 64),
    address         TEXT NOT NULL CHECK (length(address) = 42),
    label           TEXT NOT NULL DEFAULT '',
    enabled         INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    mode            TEXT NOT NULL CHECK (mode IN ('proportional', 'fixed', 'balance_pct')),
    multiplier      TEXT NOT NULL DEFAULT '0.0',
    fixed_usd       TEXT NOT NULL DEFAULT '0.0',
    balance_pct     TEXT NOT NULL DEFAULT '0.0',
    max_trade_usd   TEXT NOT NULL DEFAULT '0.0',
    max_market_usd  TEXT NOT NULL DEFAULT '0.0',
    max_day_usd     TEXT NOT NULL DEFAULT '0.0',
    min_leader_usd  TEXT NOT NULL DEFAULT '0.0',
    price_guard     TEXT NOT NULL DEFAULT '0.0',
    max_age_seconds INTEGER NOT NULL CHECK (max_age_seconds > 0),
    cursor_at       INTEGER,
    cursor_key      TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (user_id, id),
    UNIQUE (user_id, address)
) STRICT;

CREATE INDEX polybot_copy_leaders_address ON polybot_copy_leaders (address, user_id, id) WHERE enabled = 1;

-- What a user's bot did with one leader trade: one row per (leader,
-- trade key), the first kept.
CREATE TABLE polybot_copy_records (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id        TEXT NOT NULL,
    leader_id      TEXT NOT NULL,
    trade_key      TEXT NOT NULL CHECK (length(trade_key) BETWEEN 1 AND 200),
    leader_side    TEXT NOT NULL CHECK (leader_side IN ('BUY', 'SELL')),
    leader_price   TEXT NOT NULL,
    leader_size    TEXT NOT NULL,
    leader_time    INTEGER NOT NULL,
    venue          TEXT NOT NULL DEFAULT '',
    market         TEXT NOT NULL DEFAULT '',
    token          TEXT NOT NULL DEFAULT '',
    outcome        TEXT NOT NULL DEFAULT 'YES' CHECK (outcome IN ('YES', 'NO')),
    title          TEXT NOT NULL DEFAULT '',
    action         TEXT NOT NULL CHECK (action IN ('copied', 'skipped', 'exit')),
    reason         TEXT NOT NULL DEFAULT '',
    opportunity_id TEXT NOT NULL DEFAULT '',
    size           TEXT NOT NULL DEFAULT '0.0',
    price          TEXT NOT NULL DEFAULT '0.0',
    at             INTEGER NOT NULL,
    UNIQUE (user_id, leader_id, trade_key),
    FOREIGN KEY (user_id, leader_id) REFERENCES polybot_copy_leaders (user_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX polybot_copy_records_leader ON polybot_copy_records (user_id, leader_id, at, seq);
CREATE INDEX polybot_copy_records_user ON polybot_copy_records (user_id, at, seq);
