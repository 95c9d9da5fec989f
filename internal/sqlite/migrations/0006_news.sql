-- News arbitrage (polybot.NewsRule, NewsFeed, NewsHook, Headline,
-- NewsFire). Rules, hooks and fires are a tenant's own; feeds and
-- headlines are the platform's (user_id NULL, seen by everyone) or a
-- user's own. Durations are whole seconds, money exact TEXT, lists JSON
-- arrays, timestamps INTEGER microseconds (UTC).

-- A user's rule. Its id is the user's to choose, unique per user.
CREATE TABLE polybot_news_rules (
    user_id           TEXT NOT NULL REFERENCES polybot_users (id) ON DELETE CASCADE,
    id                TEXT NOT NULL CHECK (length(id) BETWEEN 1 AND 64),
    name              TEXT NOT NULL,
    enabled           INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    all_of            TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(all_of) AND json_type(all_of) = 'array'),
    any_of            TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(any_of) AND json_type(any_of) = 'array'),
    none_of           TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(none_of) AND json_type(none_of) = 'array'),
    regex             TEXT NOT NULL DEFAULT '',
    sources           TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(sources) AND json_type(sources) = 'array'),
    mode              TEXT NOT NULL CHECK (mode IN ('direct', 'lag')),
    pairs             TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(pairs) AND json_type(pairs) = 'array'),
    markets           TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(markets) AND json_type(markets) = 'array'),
    outcome           TEXT NOT NULL CHECK (outcome IN ('YES', 'NO')),
    max_price         TEXT NOT NULL,
    max_size          TEXT NOT NULL,
    window_seconds    INTEGER NOT NULL CHECK (window_seconds > 0),
    cooldown_seconds  INTEGER NOT NULL CHECK (cooldown_seconds >= 0),
    threshold         TEXT NOT NULL DEFAULT '0.0',
    take_profit       TEXT NOT NULL DEFAULT '0.0',
    stop_loss         TEXT NOT NULL DEFAULT '0.0',
    time_stop_seconds INTEGER NOT NULL CHECK (time_stop_seconds > 0),
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    PRIMARY KEY (user_id, id)
) STRICT;

-- An RSS or Atom feed: the platform's (user_id NULL) or a user's own. Ids
-- are unique across both, as a headline's source names one.
CREATE TABLE polybot_news_feeds (
    id            TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    user_id       TEXT REFERENCES polybot_users (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    url           TEXT NOT NULL,
    every_seconds INTEGER NOT NULL CHECK (every_seconds > 0),
    enabled       INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    etag          TEXT NOT NULL DEFAULT '',
    last_modified TEXT NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;

CREATE INDEX polybot_news_feeds_user ON polybot_news_feeds (user_id, id);

-- A user's signed webhook. secret is sealed under the user's data key.
CREATE TABLE polybot_news_hooks (
    id         TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    user_id    TEXT NOT NULL REFERENCES polybot_users (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    secret     TEXT NOT NULL CHECK (secret <> ''),
    created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX polybot_news_hooks_user ON polybot_news_hooks (user_id, id);

-- Headlines: the platform's (user_id NULL, from its feeds) and each
-- user's own (from the user's feeds and webhooks). An id is kept once per
-- owner.
CREATE TABLE polybot_news_headlines (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     TEXT REFERENCES polybot_users (id) ON DELETE CASCADE,
    id          TEXT NOT NULL CHECK (length(id) BETWEEN 1 AND 64),
    source      TEXT NOT NULL DEFAULT '',
    source_name TEXT NOT NULL DEFAULT '',
    title       TEXT NOT NULL,
    link        TEXT NOT NULL DEFAULT '',
    published   INTEGER,
    received    INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX polybot_news_headlines_owner_id ON polybot_news_headlines (ifnull(user_id, ''), id);
CREATE INDEX polybot_news_headlines_received ON polybot_news_headlines (received, seq);
CREATE INDEX polybot_news_headlines_user ON polybot_news_headlines (user_id, received, seq);

-- What a user's rule did with a headline.
CREATE TABLE polybot_news_fires (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id        TEXT NOT NULL REFERENCES polybot_users (id) ON DELETE CASCADE,
    rule_id        TEXT NOT NULL,
    headline_id    TEXT NOT NULL,
    at             INTEGER NOT NULL,
    action         TEXT NOT NULL,
    opportunity_id TEXT NOT NULL DEFAULT '',
    latency_micros INTEGER NOT NULL DEFAULT 0 CHECK (latency_micros >= 0),
    error          TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX polybot_news_fires_user ON polybot_news_fires (user_id, at, seq);
