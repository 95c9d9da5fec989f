-- PolyBot schema, version 2: trading state. Table and column names are
-- shared with internal/postgres. Money is exact TEXT (polybot.Decimal),
-- timestamps INTEGER microseconds (UTC), booleans 0/1.
--
-- Intents and fills are never deleted by the store (only with their user).

-- A tenant's own halt state and bot switch, and an admin's halt state for
-- the tenant. The tenant's effective halt state is the stricter of the two,
-- so a tenant cannot lift an admin's halt.
ALTER TABLE polybot_user_profiles ADD COLUMN halt_state TEXT NOT NULL DEFAULT 'active'
    CHECK (halt_state IN ('active', 'reducing_only', 'halted'));
ALTER TABLE polybot_user_profiles ADD COLUMN admin_halt_state TEXT NOT NULL DEFAULT 'active'
    CHECK (admin_halt_state IN ('active', 'reducing_only', 'halted'));
ALTER TABLE polybot_user_profiles ADD COLUMN bot_enabled INTEGER NOT NULL DEFAULT 1
    CHECK (bot_enabled IN (0, 1));

-- Orders a tenant's runner decided to send, persisted before they are sent.
-- id is the client order id (polybot.IntentID), unique per tenant.
CREATE TABLE polybot_order_intents (
    user_id        TEXT NOT NULL REFERENCES polybot_users (id) ON DELETE CASCADE,
    id             TEXT NOT NULL CHECK (length(id) BETWEEN 1 AND 128),
    opportunity_id TEXT NOT NULL DEFAULT '',
    strategy       TEXT NOT NULL DEFAULT '',
    leg            INTEGER NOT NULL DEFAULT 0,
    mode           TEXT NOT NULL CHECK (mode IN ('dry_run', 'live')),
    venue          TEXT NOT NULL,
    market         TEXT NOT NULL DEFAULT '',
    token          TEXT NOT NULL DEFAULT '',
    outcome        TEXT NOT NULL CHECK (outcome IN ('YES', 'NO')),
    side           TEXT NOT NULL CHECK (side IN ('BUY', 'SELL')),
    price          TEXT NOT NULL,
    size           TEXT NOT NULL,
    tif            TEXT NOT NULL DEFAULT '',
    state          TEXT NOT NULL CHECK (state IN ('pending', 'open', 'filled', 'partial', 'cancelled', 'rejected', 'unknown')),
    venue_order_id TEXT NOT NULL DEFAULT '',
    filled         TEXT NOT NULL DEFAULT '0.0',
    fees           TEXT NOT NULL DEFAULT '0.0',
    error          TEXT NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (user_id, id)
) STRICT;

CREATE INDEX polybot_order_intents_state ON polybot_order_intents (user_id, state, created_at);
CREATE INDEX polybot_order_intents_created ON polybot_order_intents (user_id, created_at);

-- Fills, recorded once: (user_id, venue, trade_id) is unique.
CREATE TABLE polybot_fills (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         TEXT NOT NULL REFERENCES polybot_users (id) ON DELETE CASCADE,
    venue           TEXT NOT NULL,
    trade_id        TEXT NOT NULL CHECK (trade_id <> ''),
    client_order_id TEXT NOT NULL DEFAULT '',
    strategy        TEXT NOT NULL DEFAULT '',
    mode            TEXT NOT NULL CHECK (mode IN ('dry_run', 'live')),
    market          TEXT NOT NULL DEFAULT '',
    token           TEXT NOT NULL DEFAULT '',
    outcome         TEXT NOT NULL CHECK (outcome IN ('YES', 'NO')),
    side            TEXT NOT NULL CHECK (side IN ('BUY', 'SELL')),
    price           TEXT NOT NULL,
    size            TEXT NOT NULL,
    fee             TEXT NOT NULL DEFAULT '0.0',
    realized_pnl    TEXT NOT NULL DEFAULT '0.0',
    filled_at       INTEGER NOT NULL,
    UNIQUE (user_id, venue, trade_id)
) STRICT;

CREATE INDEX polybot_fills_time ON polybot_fills (user_id, filled_at, seq);
CREATE INDEX polybot_fills_strategy ON polybot_fills (user_id, strategy, mode);

-- Positions, one per tenant, mode and instrument (polybot.Instrument.Key).
CREATE TABLE polybot_holdings (
    user_id        TEXT NOT NULL REFERENCES polybot_users (id) ON DELETE CASCADE,
    mode           TEXT NOT NULL CHECK (mode IN ('dry_run', 'live')),
    instrument_key TEXT NOT NULL,
    venue          TEXT NOT NULL,
    market         TEXT NOT NULL DEFAULT '',
    token          TEXT NOT NULL DEFAULT '',
    outcome        TEXT NOT NULL CHECK (outcome IN ('YES', 'NO')),
    size           TEXT NOT NULL,
    avg_price      TEXT NOT NULL,
    realized_pnl   TEXT NOT NULL,
    updated_at     INTEGER NOT NULL,
    PRIMARY KEY (user_id, mode, instrument_key)
) STRICT;

-- Realised P&L and fees per tenant, UTC day and mode.
CREATE TABLE polybot_daily_pnl (
    user_id    TEXT NOT NULL REFERENCES polybot_users (id) ON DELETE CASCADE,
    day        TEXT NOT NULL CHECK (day GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    mode       TEXT NOT NULL CHECK (mode IN ('dry_run', 'live')),
    realized   TEXT NOT NULL,
    fees       TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, day, mode)
) STRICT;

-- Platform-wide settings. global_halt is the admin's platform kill switch.
CREATE TABLE polybot_settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    CHECK (key <> 'global_halt' OR value IN ('active', 'reducing_only', 'halted'))
) STRICT;

INSERT INTO polybot_settings (key, value) VALUES ('global_halt', 'active');

-- The matched-market registry for cross-platform arbitrage.
CREATE TABLE polybot_market_pairs (
    id                      TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    name                    TEXT NOT NULL,
    polymarket_condition_id TEXT NOT NULL DEFAULT '',
    polymarket_yes_token    TEXT NOT NULL,
    polymarket_no_token     TEXT NOT NULL,
    kalshi_ticker           TEXT NOT NULL,
    resolution_notes        TEXT NOT NULL DEFAULT '',
    approved                INTEGER NOT NULL DEFAULT 0 CHECK (approved IN (0, 1)),
    created_at              INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    updated_at              INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER))
) STRICT;

-- The Fed's December 2025 decision, as both venues listed it (the event of
-- replay.FedDec2025HoldCSV). Its Polymarket condition id is not recorded.
INSERT INTO polybot_market_pairs (id, name, polymarket_yes_token, polymarket_no_token, kalshi_ticker,
    resolution_notes, approved)
VALUES ('fed-dec2025-hold', 'Fed decision December 2025: no change',
    '80746058984644290629624903019922696017323803605256698757445938534814122585786',
    '85970682092909806158465981896969493051954703765750954325716965011253694472992',
    'KXFEDDECISION-25DEC-H0',
    'Both markets resolve on the FOMC''s December 2025 decision (meeting of 9-10 December 2025): Polymarket''s "No change" market resolves YES, and Kalshi''s KXFEDDECISION-25DEC-H0 ("Hold") resolves Yes, if the FOMC holds the federal funds target range unchanged; a cut or a hike resolves both NO. Re-read both venues'' rules before trading: an unscheduled move or a postponed meeting may be treated differently.',
    1);
