-- The overlap registry for overlapping arbitrage (polybot.OutcomeSet,
-- polybot.Relation), kept like the matched-market registry: platform-wide
-- rows an admin writes, and only approved ones trade. No rows are seeded.

-- An outcome set: the mutually exclusive outcome markets of one venue
-- event. outcomes is the JSON array of polybot.SetOutcome.
CREATE TABLE polybot_outcome_sets (
    id               TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    name             TEXT NOT NULL,
    venue            TEXT NOT NULL CHECK (venue IN ('polymarket', 'kalshi')),
    event            TEXT NOT NULL DEFAULT '',
    outcomes         TEXT NOT NULL CHECK (json_valid(outcomes) AND json_type(outcomes) = 'array'),
    exhaustive       INTEGER NOT NULL DEFAULT 0 CHECK (exhaustive IN (0, 1)),
    resolution_notes TEXT NOT NULL DEFAULT '',
    approved         INTEGER NOT NULL DEFAULT 0 CHECK (approved IN (0, 1)),
    created_at       INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    updated_at       INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER))
) STRICT;

-- A relation: an implication between two markets (market_a and market_b,
-- each the JSON of a polybot.BinaryMarket), or an equivalence between two
-- outcome sets (set_a and set_b). A set named by a relation cannot be
-- deleted.
CREATE TABLE polybot_relations (
    id               TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
    name             TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('implies', 'equivalent')),
    market_a         TEXT CHECK (market_a IS NULL OR json_valid(market_a)),
    market_b         TEXT CHECK (market_b IS NULL OR json_valid(market_b)),
    set_a            TEXT REFERENCES polybot_outcome_sets (id),
    set_b            TEXT REFERENCES polybot_outcome_sets (id),
    resolution_notes TEXT NOT NULL DEFAULT '',
    approved         INTEGER NOT NULL DEFAULT 0 CHECK (approved IN (0, 1)),
    created_at       INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    updated_at       INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000000 AS INTEGER)),
    CHECK ((kind = 'implies' AND market_a IS NOT NULL AND market_b IS NOT NULL AND set_a IS NULL AND set_b IS NULL)
        OR (kind = 'equivalent' AND set_a IS NOT NULL AND set_b IS NOT NULL AND market_a IS NULL AND market_b IS NULL))
) STRICT;

CREATE INDEX polybot_relations_set_a ON polybot_relations (set_a) WHERE set_a IS NOT NULL;
CREATE INDEX polybot_relations_set_b ON polybot_relations (set_b) WHERE set_b IS NOT NULL;
