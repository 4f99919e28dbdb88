/** Forward-only schema versions; PRAGMA user_version records how many ran. */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
  CREATE TABLE accounts (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at INTEGER NOT NULL) STRICT;
  CREATE TABLE api_keys (
    key_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE endpoints (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    url TEXT NOT NULL,
    description TEXT NOT NULL,
    event_types TEXT,
    enabled INTEGER NOT NULL,
    disabled_reason TEXT,
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_expires_at INTEGER,
    rate_limit_per_s INTEGER,
    max_in_flight INTEGER,
    retry_schedule TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX endpoints_by_scope ON endpoints (account_id, environment, id);
  CREATE TABLE events (
    id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    type TEXT NOT NULL,
    body TEXT NOT NULL,
    idempotency_key TEXT,
    created_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX events_by_scope ON events (account_id, environment, id);
  CREATE UNIQUE INDEX events_idempotency ON events (account_id, environment, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
  CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    status TEXT NOT NULL,
    attempt_count INTEGER NOT NULL,
    scheduled_attempts INTEGER NOT NULL,
    next_attempt_at INTEGER,
    due_at INTEGER,
    manual INTEGER NOT NULL,
    claim_token TEXT,
    last_status_code INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX deliveries_due ON deliveries (due_at) WHERE due_at IS NOT NULL;
  CREATE INDEX deliveries_by_event ON deliveries (event_id);
  CREATE INDEX deliveries_by_endpoint ON deliveries (endpoint_id, status, created_at);
  CREATE TABLE attempts (
    id TEXT PRIMARY KEY,
    delivery_id TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    status_code INTEGER,
    error TEXT,
    response_snippet TEXT,
    request_headers TEXT NOT NULL,
    trigger TEXT NOT NULL
  ) STRICT;
  CREATE INDEX attempts_by_delivery ON attempts (delivery_id, id);
  `,
  // Claims go endpoint by endpoint: each endpoint knows when its oldest queued
  // delivery is due, so a backlog on one endpoint is never walked to find another's.
  `
  DROP INDEX deliveries_due;
  CREATE INDEX deliveries_queue ON deliveries (endpoint_id, due_at) WHERE due_at IS NOT NULL;
  ALTER TABLE endpoints ADD COLUMN next_due_at INTEGER;
  UPDATE endpoints SET next_due_at =
    (SELECT min(due_at) FROM deliveries WHERE endpoint_id = endpoints.id AND due_at IS NOT NULL);
  CREATE INDEX endpoints_due ON endpoints (next_due_at) WHERE next_due_at IS NOT NULL AND enabled = 1;
  `,
  // An index on (endpoint, status) changed at every step of every delivery and was, per
  // commit, the most written part of the file. Due work is found through deliveries_queue;
  // only final failures (for recover) need their own index, and they are rare.
  `
  DROP INDEX deliveries_by_endpoint;
  CREATE INDEX deliveries_failed ON deliveries (endpoint_id, created_at) WHERE status = 'failed';
  `,
  // `hookline listen`: an endpoint whose deliveries go to a developer's CLI session.
  `
  ALTER TABLE endpoints ADD COLUMN kind TEXT NOT NULL DEFAULT 'http';
  `,
  // The operator's additions to the event-type catalog.
  `
  CREATE TABLE event_types (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    schema TEXT,
    example TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  ) STRICT;
  `,
  // The dashboard: browser sessions, one-time portal links, and per-endpoint hourly
  // attempt counts (the health charts), kept up to date as outcomes are recorded.
  `
  CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    account_id TEXT,
    admin_key_hash TEXT,
    csrf_token TEXT NOT NULL,
    theme TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE portal_links (
    token_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    theme TEXT,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
  ) STRICT;
  CREATE TABLE endpoint_stats (
    endpoint_id TEXT NOT NULL,
    hour INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    succeeded INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    last_ok INTEGER NOT NULL,
    last_status_code INTEGER,
    last_error TEXT,
    PRIMARY KEY (endpoint_id, hour)
  ) STRICT, WITHOUT ROWID;
  -- The last week's attempts, so health has history from the first start after the upgrade.
  -- (With one max(), SQLite takes the other bare columns from the row that has it: the last attempt.)
  INSERT INTO endpoint_stats (endpoint_id, hour, attempts, succeeded, duration_ms, last_at, last_ok,
      last_status_code, last_error)
    SELECT d.endpoint_id, a.started_at / 3600000 * 3600000, count(*),
      sum(coalesce(a.status_code BETWEEN 200 AND 299, 0)), sum(a.duration_ms), max(a.started_at),
      coalesce(a.status_code BETWEEN 200 AND 299, 0), a.status_code, a.error
    FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
    WHERE a.started_at >= (unixepoch() - 8 * 86400) * 1000
    GROUP BY d.endpoint_id, a.started_at / 3600000;
  `,
  // Rate limits kept with the endpoint: each claim reserves the send times it takes.
  `
  ALTER TABLE endpoints ADD COLUMN rate_next_at INTEGER;
  `,
  // `hookline listen` across processes: which process holds an endpoint's listener, and until when.
  `
  ALTER TABLE endpoints ADD COLUMN listener_node TEXT;
  ALTER TABLE endpoints ADD COLUMN listener_until INTEGER;
  `,
  // The first failed attempt since the endpoint's last success: failing this long disables it.
  `
  ALTER TABLE endpoints ADD COLUMN failing_since INTEGER;
  `,
  // An endpoint disabled by its receiver (410) or by failing too long, whose operator's system
  // event is not committed yet: an outbox, so a crash between the two loses no notice.
  `
  ALTER TABLE endpoints ADD COLUMN disabled_notice_at INTEGER;
  CREATE INDEX endpoints_disabled_notice ON endpoints (disabled_notice_at) WHERE disabled_notice_at IS NOT NULL;
  `,
  // /metrics counts disabled endpoints on every scrape: an index of just those (few, and rarely changing).
  `
  CREATE INDEX endpoints_disabled ON endpoints (disabled_reason) WHERE enabled = 0;
  `,
];
