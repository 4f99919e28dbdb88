/**
 * What `hookline doctor` reads from a store, without changing it (no migration, no
 * new file): each backend's `inspectStore` answers it from its own kind of database.
 */
export interface StoreInspection {
  /** Migrations applied; 0 when the store has no tables yet. */
  version: number;
  /** Migrations this Hookline knows. */
  expected: number;
  /** Ids of the master keys the stored signing secrets are sealed with. */
  sealedKeyIds: string[];
  /** Endpoints with a secret not sealed yet (written before encryption existed). */
  plainSecrets: number;
  /** When the newest event was created (ms), or null without events. */
  newestEventAt: number | null;
}

const SEALED = "'hlenc:v1:%'";

/** The key ids (the 8 characters after the prefix) of every sealed secret. */
export function sealedKeyIdsSql(endpoints: string): string {
  return `SELECT substr(secret, 10, 8) AS key_id FROM ${endpoints} WHERE secret LIKE ${SEALED}
    UNION SELECT substr(previous_secret, 10, 8) FROM ${endpoints} WHERE previous_secret LIKE ${SEALED}`;
}

export function plainSecretsSql(endpoints: string): string {
  return `SELECT count(*) AS n FROM ${endpoints}
    WHERE secret NOT LIKE ${SEALED} OR previous_secret NOT LIKE ${SEALED}`;
}

/** Event ids sort by time, so the last id is the newest event (one step down the primary key). */
export function newestEventSql(events: string): string {
  return `SELECT created_at FROM ${events} ORDER BY id DESC LIMIT 1`;
}
