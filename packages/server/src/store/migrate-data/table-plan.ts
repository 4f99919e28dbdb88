import { HooklineError } from "../../errors.ts";

/** Double-quotes an identifier found by introspection (the same rule in SQLite and PostgreSQL). */
export function quoteName(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A table of the embedded store, as `pragma table_info` describes it. */
export interface SourceTable {
  name: string;
  columns: readonly string[];
}

export interface TargetColumn {
  name: string;
  notNull: boolean;
  /** PostgreSQL fills it when an INSERT leaves it out. */
  hasDefault: boolean;
}

/** A table of the PostgreSQL schema, as information_schema describes it. */
export interface TargetTable {
  name: string;
  columns: readonly TargetColumn[];
}

/** What is copied from one source table into the target table of the same name. */
export interface TablePlan {
  table: string;
  /** The columns both tables have, in the source's order. */
  columns: readonly string[];
  /** Source columns the target lacks: their values cannot be copied. */
  sourceOnly: readonly string[];
}

/**
 * Parents before children, so the progress reads like the data model; tables not
 * listed (added by later migrations) follow by name. The order is not needed for
 * correctness: PostgreSQL's only foreign key is on endpoint_due_marks, which the embedded
 * store does not have, so nothing is copied into it.
 */
const ORDER = [
  "settings",
  "accounts",
  "api_keys",
  "event_types",
  "endpoints",
  "events",
  "deliveries",
  "attempts",
  "endpoint_stats",
  "sessions",
  "portal_links",
];

function rank(table: string): number {
  const index = ORDER.indexOf(table);
  return index === -1 ? ORDER.length : index;
}

/**
 * Maps every source table onto the target table of the same name, column by
 * column. Fails when a source table has nowhere to go (its rows would be lost) or
 * when a target column must have a value (NOT NULL, no default) the source lacks.
 */
export function planTables(source: readonly SourceTable[], target: readonly TargetTable[]): TablePlan[] {
  const targets = new Map(target.map((table) => [table.name, table]));
  const problems: string[] = [];
  const plans: TablePlan[] = [];
  for (const table of source) {
    const into = targets.get(table.name);
    if (!into) {
      problems.push(`table ${table.name} has no PostgreSQL table to go to`);
      continue;
    }
    const targetNames = new Set(into.columns.map((column) => column.name));
    const sourceNames = new Set(table.columns);
    for (const column of into.columns) {
      if (column.notNull && !column.hasDefault && !sourceNames.has(column.name)) {
        problems.push(
          `${table.name}.${column.name} is NOT NULL in PostgreSQL but the embedded store has no such column`,
        );
      }
    }
    const columns = table.columns.filter((name) => targetNames.has(name));
    if (columns.length === 0) problems.push(`table ${table.name} has no column in common with PostgreSQL's`);
    plans.push({
      table: table.name,
      columns,
      sourceOnly: table.columns.filter((name) => !targetNames.has(name)),
    });
  }
  if (problems.length > 0) {
    throw new HooklineError(
      "schema_mismatch",
      `the two schemas do not match, nothing was copied:\n  ${problems.join("\n  ")}\n` +
        "Use the same Hookline version for both (run `hookline migrate` on the embedded store first).",
    );
  }
  return plans.sort((a, b) => rank(a.table) - rank(b.table) || (a.table < b.table ? -1 : 1));
}
