import { toEventType } from "../rows.ts";
import type { EventTypeRecord } from "../store.ts";
import type { Database } from "./database.ts";

export function eventTypeQueries(db: Database) {
  return {
    async listEventTypes() {
      return (await db.all("SELECT * FROM event_types ORDER BY name")).map(toEventType);
    },
    async putEventType(type: Omit<EventTypeRecord, "createdAt" | "updatedAt">, now: number) {
      const schema = type.schema === null ? null : JSON.stringify(type.schema);
      const row = await db.get(
        `INSERT INTO event_types (name, description, schema, example, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $5)
        ON CONFLICT (name) DO UPDATE SET description = excluded.description, schema = excluded.schema,
          example = excluded.example, updated_at = excluded.updated_at
        RETURNING *`,
        [type.name, type.description, schema, JSON.stringify(type.example), now],
      );
      return toEventType(row as NonNullable<typeof row>);
    },
  };
}
