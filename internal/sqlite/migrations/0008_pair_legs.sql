-- Matched pairs over any two venues (polybot.MarketPair.Legs): the
-- Polymarket columns become the first leg's, the Kalshi ticker the second
-- leg's market, and each leg names its venue. Every existing row is a
-- Polymarket–Kalshi pair and keeps its meaning. A leg's yes/no are the
-- contracts' own ids where the venue lists them apart (Polymarket tokens,
-- IBKR contract ids), empty for Kalshi. Privileges and policies are the
-- table's (0002): they name no column.
ALTER TABLE polybot_market_pairs RENAME COLUMN polymarket_condition_id TO a_market;
ALTER TABLE polybot_market_pairs RENAME COLUMN polymarket_yes_token TO a_yes;
ALTER TABLE polybot_market_pairs RENAME COLUMN polymarket_no_token TO a_no;
ALTER TABLE polybot_market_pairs RENAME COLUMN kalshi_ticker TO b_market;
ALTER TABLE polybot_market_pairs ADD COLUMN a_venue TEXT NOT NULL DEFAULT 'polymarket';
ALTER TABLE polybot_market_pairs ADD COLUMN b_venue TEXT NOT NULL DEFAULT 'kalshi';
ALTER TABLE polybot_market_pairs ADD COLUMN b_yes TEXT NOT NULL DEFAULT '';
ALTER TABLE polybot_market_pairs ADD COLUMN b_no TEXT NOT NULL DEFAULT '';
