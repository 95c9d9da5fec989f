-- Billing (polybot.BillingAccount, Invoice, BillingPrice): the tier → price
-- map, each user's provider customer and latest subscription state, the
-- invoices kept from webhooks, and the provider events already applied.
-- Money exact TEXT (dollars), timestamps INTEGER microseconds (UTC).

CREATE TABLE polybot_billing_prices (
    tier       TEXT PRIMARY KEY REFERENCES polybot_tiers (name) ON DELETE CASCADE,
    price_id   TEXT NOT NULL UNIQUE CHECK (length(price_id) BETWEEN 1 AND 255),
    updated_at INTEGER NOT NULL
) STRICT;

-- One row per user: the customer is created once and reused, and bound to
-- the user (customer_id is unique).
CREATE TABLE polybot_billing_accounts (
    user_id              TEXT PRIMARY KEY REFERENCES polybot_users (id) ON DELETE CASCADE,
    customer_id          TEXT NOT NULL UNIQUE CHECK (length(customer_id) BETWEEN 1 AND 255),
    subscription_id      TEXT NOT NULL DEFAULT '',
    status               TEXT NOT NULL DEFAULT '',
    price_id             TEXT NOT NULL DEFAULT '',
    tier                 TEXT NOT NULL DEFAULT '',
    period_start         INTEGER,
    period_end           INTEGER,
    cancel_at_period_end INTEGER NOT NULL DEFAULT 0 CHECK (cancel_at_period_end IN (0, 1)),
    hold_tier            TEXT NOT NULL DEFAULT '',
    hold_until           INTEGER,
    sub_created          INTEGER,
    version              INTEGER,
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
) STRICT;

CREATE INDEX polybot_billing_accounts_sub ON polybot_billing_accounts (user_id) WHERE subscription_id <> '';

CREATE TABLE polybot_billing_invoices (
    id              TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 255),
    user_id         TEXT NOT NULL REFERENCES polybot_users (id) ON DELETE CASCADE,
    subscription_id TEXT NOT NULL DEFAULT '',
    number          TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL,
    amount_due      TEXT NOT NULL,
    amount_paid     TEXT NOT NULL,
    currency        TEXT NOT NULL DEFAULT '',
    hosted_url      TEXT NOT NULL DEFAULT '',
    period_start    INTEGER,
    period_end      INTEGER,
    created         INTEGER NOT NULL,
    failed_at       INTEGER,
    version         INTEGER,
    updated_at      INTEGER NOT NULL
) STRICT;

CREATE INDEX polybot_billing_invoices_user ON polybot_billing_invoices (user_id, created, id);

-- Provider events applied, so a redelivery changes nothing.
CREATE TABLE polybot_billing_events (
    id           TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 255),
    kind         TEXT NOT NULL,
    processed_at INTEGER NOT NULL
) STRICT;
