import type { DatabaseSync } from "node:sqlite";
import { type Row, toEventType } from "../rows.ts";
import type { EventTypeRecord } from "../store.ts";
import { prepareAll } from "./database.ts";

export function eventTypeQueries(db: DatabaseSync) {
  const sql = prepareAll(db, {
    list: "SELECT * FROM event_types ORDER BY name",
    get: "SELECT * FROM event_types WHERE name = ?",
    put: `INSERT INTO event_types (name, description, schema, example, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (name) DO UPDATE SET description = excluded.description, schema = excluded.schema,
        example = excluded.example, updated_at = excluded.updated_at`,
  });

  return {
    async listEventTypes() {
      return (sql.list.all() as Row[]).map(toEventType);
    },
    async putEventType(type: Omit<EventTypeRecord, "createdAt" | "updatedAt">, now: number) {
      const schema = type.schema === null ? null : JSON.stringify(type.schema);
      sql.put.run(type.name, type.description, schema, JSON.stringify(type.example), now, now);
      return toEventType(sql.get.get(type.name) as Row);
    },
  };
}
