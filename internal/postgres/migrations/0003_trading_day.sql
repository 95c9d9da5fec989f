-- The tenant's trading day: its time zone, and per day and mode the cash
-- the day's fills moved and the marked value of the book when it opened.
ALTER TABLE polybot_user_config ADD COLUMN timezone text NOT NULL DEFAULT 'UTC'
	CHECK (length(timezone) BETWEEN 1 AND 64);
GRANT UPDATE (timezone) ON polybot_user_config TO authenticated;

ALTER TABLE polybot_daily_pnl ADD COLUMN cash_flow numeric(19,6) NOT NULL DEFAULT 0;
ALTER TABLE polybot_daily_pnl ADD COLUMN open_value numeric(19,6) NOT NULL DEFAULT 0;
ALTER TABLE polybot_daily_pnl ADD COLUMN opened boolean NOT NULL DEFAULT false;
GRANT UPDATE (cash_flow, open_value, opened) ON polybot_daily_pnl TO authenticated;
