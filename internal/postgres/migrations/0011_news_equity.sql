-- News rules whose action is an equity order (mode 'equity') and an
-- optional hedge leg on direct and lag rules (polybot.NewsRule.Equity and
-- Hedge): each a JSON object, or JSON null when the rule has none. The
-- table's row-level security and grants cover the new columns as they are.
ALTER TABLE polybot_news_rules DROP CONSTRAINT polybot_news_rules_mode_check;
ALTER TABLE polybot_news_rules ADD CONSTRAINT polybot_news_rules_mode_check CHECK (mode IN ('direct', 'lag', 'equity'));
ALTER TABLE polybot_news_rules
	ADD COLUMN equity jsonb NOT NULL DEFAULT 'null' CHECK (jsonb_typeof(equity) IN ('null', 'object')),
	ADD COLUMN hedge jsonb NOT NULL DEFAULT 'null' CHECK (jsonb_typeof(hedge) IN ('null', 'object'));
