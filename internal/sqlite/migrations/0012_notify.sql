-- Notifications (polybot.NotifyDestination, NotifyDelivery). A tenant's
-- destinations, with their secrets sealed under the tenant's data key, and
-- the outbox: one row per event and destination, written in the same
-- transaction as the event. Timestamps INTEGER microseconds (UTC).

CREATE TABLE polybot_notify_destinations (
    user_id     TEXT NOT NULL REFERENCES polybot_users (id) ON DELETE CASCADE,
    id          TEXT NOT NULL CHECK (length(id) BETWEEN 1 AND 64),
    channel     TEXT NOT NULL CHECK (channel IN ('email', 'telegram', 'discord', 'webhook')),
    name        TEXT NOT NULL,
    target      TEXT NOT NULL,
    events      TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(events) AND json_type(events) = 'array'),
    enabled     INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    verify_hash TEXT NOT NULL DEFAULT '',
    verified_at INTEGER,
    sealed      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(sealed) AND json_type(sealed) = 'object'),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (user_id, id)
) STRICT;

CREATE TABLE polybot_notify_deliveries (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id        TEXT NOT NULL,
    destination_id TEXT NOT NULL,
    channel        TEXT NOT NULL,
    idem_key       TEXT NOT NULL,
    event_id       TEXT NOT NULL,
    event          TEXT NOT NULL,
    payload        TEXT NOT NULL CHECK (json_valid(payload)),
    state          TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts       INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_at        INTEGER NOT NULL,
    last_error     TEXT NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    delivered_at   INTEGER,
    UNIQUE (user_id, idem_key),
    FOREIGN KEY (user_id, destination_id) REFERENCES polybot_notify_destinations (user_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX polybot_notify_deliveries_due ON polybot_notify_deliveries (next_at) WHERE state = 'pending';
CREATE INDEX polybot_notify_deliveries_user ON polybot_notify_deliveries (user_id, id);
