-- The overlap registry for overlapping arbitrage (polybot.OutcomeSet,
-- polybot.Relation), kept like the matched-market registry
-- (polybot_market_pairs, 0002): platform-wide rows written only on the
-- service path, readable by tenants, and only approved ones trade. No rows
-- are seeded.

-- An outcome set: the mutually exclusive outcome markets of one venue
-- event. outcomes is the JSON array of polybot.SetOutcome.
CREATE TABLE polybot_outcome_sets (
	id text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
	name text NOT NULL,
	venue text NOT NULL CHECK (venue IN ('polymarket', 'kalshi')),
	event text NOT NULL DEFAULT '',
	outcomes jsonb NOT NULL CHECK (jsonb_typeof(outcomes) = 'array'),
	exhaustive boolean NOT NULL DEFAULT false,
	resolution_notes text NOT NULL DEFAULT '',
	approved boolean NOT NULL DEFAULT false,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);

-- A relation: an implication between two markets (market_a and market_b,
-- each the JSON of a polybot.BinaryMarket), or an equivalence between two
-- outcome sets (set_a and set_b). A set named by a relation cannot be
-- deleted.
CREATE TABLE polybot_relations (
	id text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
	name text NOT NULL,
	kind text NOT NULL CHECK (kind IN ('implies', 'equivalent')),
	market_a jsonb,
	market_b jsonb,
	set_a text CONSTRAINT polybot_relations_set_a_fkey REFERENCES polybot_outcome_sets (id),
	set_b text CONSTRAINT polybot_relations_set_b_fkey REFERENCES polybot_outcome_sets (id),
	resolution_notes text NOT NULL DEFAULT '',
	approved boolean NOT NULL DEFAULT false,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	CHECK ((kind = 'implies' AND market_a IS NOT NULL AND market_b IS NOT NULL AND set_a IS NULL AND set_b IS NULL)
		OR (kind = 'equivalent' AND set_a IS NOT NULL AND set_b IS NOT NULL AND market_a IS NULL AND market_b IS NULL))
);

CREATE INDEX polybot_relations_set_a ON polybot_relations (set_a) WHERE set_a IS NOT NULL;
CREATE INDEX polybot_relations_set_b ON polybot_relations (set_b) WHERE set_b IS NOT NULL;

-- Privileges as for polybot_market_pairs: nothing for PUBLIC; tenants read
-- (the registry is shared, not tenant data, so there is no row-level
-- policy); only the service path writes. polybot_tenant_app (0004) gets
-- nothing: the tenant path never writes the registry.
REVOKE ALL ON polybot_outcome_sets, polybot_relations FROM PUBLIC;
GRANT SELECT ON polybot_outcome_sets, polybot_relations TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON polybot_outcome_sets, polybot_relations TO polybot_service;
