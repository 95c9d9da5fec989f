-- Placeholder for the billing branch's 0009 (the migrator wants 1..n without
-- gaps). Delete this file when billing's 0009 is merged.
SELECT 1;
