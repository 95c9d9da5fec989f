-- News rules whose action is an equity order (mode 'equity') and an
-- optional hedge leg on direct and lag rules (polybot.NewsRule.Equity and
-- Hedge): each a JSON object, or JSON null when the rule has none. SQLite
-- cannot change a CHECK constraint in place, so the table is rebuilt with
-- the wider mode check and the two columns; nothing references it.
CREATE TABLE polybot_news_rules_new (
    user_id           TEXT NOT NULL REFERENCES polybot_users (id) ON DELETE CASCADE,
    id                TEXT NOT NULL CHECK (length(id) BETWEEN 1 AND 64),
    name              TEXT NOT NULL,
    enabled           INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    all_of            TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(all_of) AND json_type(all_of) = 'array'),
    any_of            TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(any_of) AND json_type(any_of) = 'array'),
    none_of           TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(none_of) AND json_type(none_of) = 'array'),
    regex             TEXT NOT NULL DEFAULT '',
    sources           TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(sources) AND json_type(sources) = 'array'),
    mode              TEXT NOT NULL CHECK (mode IN ('direct', 'lag', 'equity')),
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
    equity            TEXT NOT NULL DEFAULT 'null' CHECK (json_valid(equity) AND json_type(equity) IN ('null', 'object')),
    hedge             TEXT NOT NULL DEFAULT 'null' CHECK (json_valid(hedge) AND json_type(hedge) IN ('null', 'object')),
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    PRIMARY KEY (user_id, id)
) STRICT;

INSERT INTO polybot_news_rules_new (user_id, id, name, enabled, all_of, any_of, none_of, regex, sources, mode, pairs,
    markets, outcome, max_price, max_size, window_seconds, cooldown_seconds, threshold, take_profit, stop_loss,
    time_stop_seconds, created_at, updated_at)
SELECT user_id, id, name, enabled, all_of, any_of, none_of, regex, sources, mode, pairs, markets, outcome, max_price,
    max_size, window_seconds, cooldown_seconds, threshold, take_profit, stop_loss, time_stop_seconds, created_at, updated_at
FROM polybot_news_rules;

DROP TABLE polybot_news_rules;
ALTER TABLE polybot_news_rules_new RENAME TO polybot_news_rules;
