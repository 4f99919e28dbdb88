/**
 * Forward-only schema versions of the PostgreSQL store (schema_version records how
 * many ran). Columns mirror the SQLite store's final schema, with the same names and
 * kinds (text, BIGINT milliseconds, 0/1 integers, JSON as text), so both backends
 * share their row mappers (store/rows.ts). Ids compare byte by byte (COLLATE "C"), as in
 * SQLite: cursors and "newest first" rely on their order.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE accounts (id TEXT COLLATE "C" PRIMARY KEY, name TEXT NOT NULL, created_at BIGINT NOT NULL);
  CREATE TABLE api_keys (
    key_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    created_at BIGINT NOT NULL
  );
  CREATE TABLE endpoints (
    id TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'http',
    url TEXT NOT NULL,
    description TEXT NOT NULL,
    event_types TEXT,
    enabled INTEGER NOT NULL,
    disabled_reason TEXT,
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_expires_at BIGINT,
    rate_limit_per_s INTEGER,
    max_in_flight INTEGER,
    retry_schedule TEXT,
    next_due_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  );
  CREATE INDEX endpoints_by_scope ON endpoints (account_id, environment, id);
  CREATE INDEX endpoints_due ON endpoints (next_due_at) WHERE next_due_at IS NOT NULL AND enabled = 1;
  CREATE TABLE events (
    id TEXT COLLATE "C" PRIMARY KEY,
    account_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    type TEXT NOT NULL,
    body TEXT NOT NULL,
    idempotency_key TEXT,
    created_at BIGINT NOT NULL
  );
  CREATE INDEX events_by_scope ON events (account_id, environment, id);
  CREATE UNIQUE INDEX events_idempotency ON events (account_id, environment, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
  CREATE TABLE deliveries (
    id TEXT COLLATE "C" PRIMARY KEY,
    event_id TEXT NOT NULL,
    endpoint_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    environment TEXT NOT NULL,
    status TEXT NOT NULL,
    attempt_count INTEGER NOT NULL,
    scheduled_attempts INTEGER NOT NULL,
    next_attempt_at BIGINT,
    due_at BIGINT,
    manual INTEGER NOT NULL,
    claim_token TEXT,
    last_status_code INTEGER,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  );
  CREATE INDEX deliveries_queue ON deliveries (endpoint_id, due_at) WHERE due_at IS NOT NULL;
  CREATE INDEX deliveries_by_event ON deliveries (event_id);
  CREATE INDEX deliveries_failed ON deliveries (endpoint_id, created_at) WHERE status = 'failed';
  CREATE TABLE attempts (
    id TEXT COLLATE "C" PRIMARY KEY,
    delivery_id TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    duration_ms INTEGER NOT NULL,
    status_code INTEGER,
    error TEXT,
    response_snippet TEXT,
    request_headers TEXT NOT NULL,
    trigger TEXT NOT NULL
  );
  CREATE INDEX attempts_by_delivery ON attempts (delivery_id, id);
  CREATE TABLE event_types (
    name TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    schema TEXT,
    example TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  );
  CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    account_id TEXT,
    admin_key_hash TEXT,
    csrf_token TEXT NOT NULL,
    theme TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
  );
  CREATE TABLE portal_links (
    token_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    theme TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
  );
  CREATE TABLE endpoint_stats (
    endpoint_id TEXT NOT NULL,
    hour BIGINT NOT NULL,
    attempts INTEGER NOT NULL,
    succeeded INTEGER NOT NULL,
    duration_ms BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    last_ok INTEGER NOT NULL,
    last_status_code INTEGER,
    last_error TEXT,
    PRIMARY KEY (endpoint_id, hour)
  );
  `,
  // Limits that hold across nodes: rate-limit send times are reserved on the endpoint row,
  // and a claim counts the endpoint's unexpired claims (its in-flight cap) through this index.
  `
  ALTER TABLE endpoints ADD COLUMN rate_next_at BIGINT;
  CREATE INDEX deliveries_delivering ON deliveries (endpoint_id, due_at) WHERE status = 'delivering';
  `,
  // `hookline listen` across nodes: the node holding an endpoint's listener (its socket), and until when.
  `
  ALTER TABLE endpoints ADD COLUMN listener_node TEXT;
  ALTER TABLE endpoints ADD COLUMN listener_until BIGINT;
  `,
  // The first failed attempt since the endpoint's last success: failing this long disables it.
  `
  ALTER TABLE endpoints ADD COLUMN failing_since BIGINT;
  `,
  // An endpoint disabled by its receiver (410) or by failing too long, whose operator's system
  // event is not committed yet: an outbox, so a crash between the two loses no notice.
  `
  ALTER TABLE endpoints ADD COLUMN disabled_notice_at BIGINT;
  CREATE INDEX endpoints_disabled_notice ON endpoints (disabled_notice_at) WHERE disabled_notice_at IS NOT NULL;
  `,
  // /metrics counts disabled endpoints on every scrape: an index of just those (few, and rarely changing).
  `
  CREATE INDEX endpoints_disabled ON endpoints (disabled_reason) WHERE enabled = 0;
  `,
  // Writers that make an endpoint's delivery due (ingest above all) add a mark here instead of
  // writing the endpoint's row, so they never wait for a worker holding that row (store/postgres/queue.ts).
  `
  CREATE TABLE endpoint_due_marks (
    endpoint_id TEXT COLLATE "C" NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    due_at BIGINT NOT NULL
  );
  CREATE INDEX endpoint_due_marks_by_endpoint ON endpoint_due_marks (endpoint_id, due_at);
  `,
  // Each process adds its outcomes to health figures of its own (store/postgres/endpoint-stats.ts), so
  // workers delivering to the same endpoints never wait for each other's rows.
  `
  ALTER TABLE endpoint_stats ADD COLUMN shard INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE endpoint_stats DROP CONSTRAINT endpoint_stats_pkey;
  ALTER TABLE endpoint_stats ADD PRIMARY KEY (endpoint_id, hour, shard);
  `,
];
