import { HooklineError } from "../errors.ts";
import type { SecretBox } from "./secret-box.ts";
import type { Claim, Endpoint, EndpointSecrets, Store } from "./store.ts";

/**
 * The store as the rest of Hookline sees it: signing secrets go in sealed under the
 * master key and come out plain. Only the store's rows hold sealed secrets, so a copy
 * of the database (a backup, a dump, a stolen disk) holds none that sign.
 */
export function sealSecrets(store: Store, box: SecretBox, report: (error: Error) => void): Store {
  const open = (endpoint: Endpoint): Endpoint => {
    endpoint.secret = box.open(endpoint.secret);
    if (endpoint.previousSecret !== null) endpoint.previousSecret = box.open(endpoint.previousSecret);
    return endpoint;
  };
  /**
   * Claims come back from a commit: one whose secret this process cannot open (a key it was
   * not given) goes back to the queue for a process that can, instead of failing the commit's caller.
   */
  const openClaims = async (claims: Claim[], now: number): Promise<Claim[]> => {
    const opened: Claim[] = [];
    const unopenable: Claim[] = [];
    for (const claim of claims) {
      try {
        claim.secrets = claim.secrets.map(box.open);
        opened.push(claim);
      } catch (error) {
        unopenable.push(claim);
        report(error as Error);
      }
    }
    if (unopenable.length > 0) await store.releaseClaims(unopenable, now).catch(report);
    return opened;
  };
  const openOrNull = (endpoint: Endpoint | null) => (endpoint ? open(endpoint) : null);
  return {
    ...store,
    createEndpoint: async (scope, input, now) =>
      open(await store.createEndpoint(scope, { ...input, secret: box.seal(input.secret) }, now)),
    getEndpoint: async (scope, id) => openOrNull(await store.getEndpoint(scope, id)),
    listEndpoints: async (scope, page) => (await store.listEndpoints(scope, page)).map(open),
    updateEndpoint: async (scope, id, patch, now) => openOrNull(await store.updateEndpoint(scope, id, patch, now)),
    rotateSecret: async (scope, id, secret, previousExpiresAt, now) =>
      openOrNull(await store.rotateSecret(scope, id, box.seal(secret), previousExpiresAt, now)),
    openListener: async (scope, eventTypes, secret, hold, now) =>
      open(await store.openListener(scope, eventTypes, box.seal(secret), hold, now)),
    ingest: async (requests, now, lease) => {
      const ingested = await store.ingest(requests, now, lease);
      return { ...ingested, claims: await openClaims(ingested.claims, now) };
    },
    settle: async (outcomes, claim, now) => {
      const settled = await store.settle(outcomes, claim, now);
      return { ...settled, claims: await openClaims(settled.claims, now) };
    },
  };
}

const PAGE = 500;

/**
 * Seals every stored secret that is not sealed under the box's current key: plain ones
 * (written before encryption existed) and, when `rotate`, ones under an older master key.
 * Refuses, before changing anything, when a secret needs a key the box does not hold.
 * Changes are compare-and-swap, so a secret rotated meanwhile is left as its writer made it.
 * Only rows not sealed under the current key are read: once all are, a start costs one query.
 * @returns how many endpoints were rewritten, and how many changed meanwhile (not rewritten).
 */
export async function resealSecrets(
  store: Store,
  box: SecretBox,
  rotate: boolean,
): Promise<{ rewritten: number; remaining: number }> {
  const needsWork = (value: string | null) => {
    if (value === null) return false;
    const keyId = box.keyIdOf(value);
    return keyId === null || (rotate && keyId !== box.currentKeyId);
  };
  const reseal = (value: string | null) => (value !== null && needsWork(value) ? box.seal(box.open(value)) : value);

  const unknownKeys = new Set<string>();
  await eachPage(store, box.currentKeyId, (rows) => {
    for (const row of rows) {
      for (const value of [row.secret, row.previousSecret]) {
        if (value !== null && !box.canOpen(value)) unknownKeys.add(box.keyIdOf(value) as string);
      }
    }
  });
  if (unknownKeys.size > 0) {
    throw new HooklineError(
      "master_key_missing",
      `signing secrets in the database are encrypted with master key ${[...unknownKeys].join(", ")}, but this process has ${box.currentKeyId}: start with the master key they were written with (master_key / HOOKLINE_MASTER_KEY, master_key_file, or old_master_keys during a rotation)`,
    );
  }
  let rewritten = 0;
  let remaining = 0;
  await eachPage(store, box.currentKeyId, async (rows) => {
    const changes: { from: EndpointSecrets; to: EndpointSecrets }[] = [];
    for (const row of rows) {
      if (!needsWork(row.secret) && !needsWork(row.previousSecret)) continue;
      changes.push({
        from: row,
        to: { id: row.id, secret: reseal(row.secret) as string, previousSecret: reseal(row.previousSecret) },
      });
    }
    if (changes.length === 0) return;
    const applied = await store.replaceEndpointSecrets(changes);
    rewritten += applied;
    remaining += changes.length - applied;
  });
  return { rewritten, remaining };
}

async function eachPage(
  store: Store,
  currentKeyId: string,
  visit: (rows: EndpointSecrets[]) => void | Promise<void>,
): Promise<void> {
  let after: string | null = null;
  for (;;) {
    const rows = await store.listEndpointSecrets(after, PAGE, currentKeyId);
    if (rows.length === 0) return;
    await visit(rows);
    after = (rows.at(-1) as EndpointSecrets).id;
  }
}
