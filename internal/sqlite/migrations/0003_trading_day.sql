-- The tenant's trading day: its time zone, and per day and mode the cash
-- the day's fills moved and the marked value of the book when it opened.
ALTER TABLE polybot_user_config ADD COLUMN timezone TEXT NOT NULL DEFAULT 'UTC';
ALTER TABLE polybot_daily_pnl ADD COLUMN cash_flow TEXT NOT NULL DEFAULT '0';
ALTER TABLE polybot_daily_pnl ADD COLUMN open_value TEXT NOT NULL DEFAULT '0';
ALTER TABLE polybot_daily_pnl ADD COLUMN opened INTEGER NOT NULL DEFAULT 0 CHECK (opened IN (0, 1));
