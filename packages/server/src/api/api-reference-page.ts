import { createHash } from "node:crypto";
import type { OpenApiDocument, Operation, Parameter } from "./openapi.ts";

type Json = Record<string, unknown>;

/**
 * `GET /docs`: the OpenAPI document as one readable HTML page, rendered here: no
 * script, no external resource, every value escaped. Its only style sheet is
 * inline, allowed by its hash (`styleHash`, for the Content-Security-Policy).
 */
export function renderApiReference(doc: OpenApiDocument): { html: string; styleHash: string } {
  const styleHash = `sha256-${createHash("sha256").update(STYLE).digest("base64")}`;
  const byTag = new Map<string, { method: string; path: string; op: Operation }[]>();
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      for (const tag of op.tags) {
        const list = byTag.get(tag) ?? [];
        list.push({ method: method.toUpperCase(), path, op });
        byTag.set(tag, list);
      }
    }
  }
  const tags = doc.tags.filter((tag) => byTag.has(tag.name));

  const nav = tags
    .map(
      (tag) =>
        `<li><a href="#${anchor("tag", tag.name)}">${esc(tag.name)}</a><ul>${(byTag.get(tag.name) ?? [])
          .map(
            ({ method, path, op }) =>
              `<li><a href="#${anchor("op", op.operationId)}"><span class="m ${method.toLowerCase()}">${method}</span> ${esc(path)}</a></li>`,
          )
          .join("")}</ul></li>`,
    )
    .join("");

  const sections = tags
    .map(
      (tag) =>
        `<section id="${anchor("tag", tag.name)}"><h2>${esc(tag.name)}</h2>${text(tag.description)}${(
          byTag.get(tag.name) ?? []
        )
          .map(({ method, path, op }) => operationHtml(method, path, op, doc))
          .join("")}</section>`,
    )
    .join("");

  const schemes = Object.entries(doc.components.securitySchemes)
    .map(
      ([name, scheme]) =>
        `<tr><td><code>${esc(name)}</code></td><td>${esc(schemeText(scheme))}</td><td>${inline(String(scheme.description ?? ""))}</td></tr>`,
    )
    .join("");

  const errors = Object.entries(doc.components.responses)
    .map(([name, response]) => `<tr><td>${esc(name)}</td><td>${inline(String(response.description ?? ""))}</td></tr>`)
    .join("");

  const components = Object.entries(doc.components.schemas)
    .map(
      ([name, schema]) =>
        `<section class="schema" id="${anchor("schema", name)}"><h3>${esc(name)}</h3>${schemaHtml(schema, doc)}</section>`,
    )
    .join("");

  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(doc.info.title)} reference</title>
<style>${STYLE}</style>
</head>
<body>
<nav><p class="brand"><a href="#top">${esc(doc.info.title)}</a></p><ul><li><a href="#authentication">Authentication</a></li><li><a href="#errors">Errors</a></li>${nav}<li><a href="#schemas">Schemas</a></li></ul></nav>
<main id="top">
<h1>${esc(doc.info.title)} <small>${esc(doc.info.version)}</small></h1>
<p class="openapi">OpenAPI ${esc(doc.openapi)} document: <a href="openapi.json">openapi.json</a></p>
${text(doc.info.description)}
<section id="authentication"><h2>Authentication</h2><table><thead><tr><th>scheme</th><th>sent as</th><th></th></tr></thead><tbody>${schemes}</tbody></table></section>
<section id="errors"><h2>Errors</h2><p>Every error answer is an <a href="#${anchor("schema", "Error")}">Error</a>. The common ones:</p><table><tbody>${errors}</tbody></table></section>
${sections}
<section id="schemas"><h2>Schemas</h2>${components}</section>
</main>
</body>
</html>
`;
  return { html, styleHash };
}

function operationHtml(method: string, path: string, op: Operation, doc: OpenApiDocument): string {
  const parts = [
    `<article class="op" id="${anchor("op", op.operationId)}">`,
    `<h3><span class="m ${method.toLowerCase()}">${method}</span> <code class="path">${esc(path)}</code></h3>`,
    `<p class="summary">${inline(op.summary)}</p>`,
    `<p class="auth">${securityText(op, doc)}</p>`,
    op.description ? text(op.description) : "",
  ];
  const groups: [string, Parameter["in"]][] = [
    ["Path parameters", "path"],
    ["Query parameters", "query"],
    ["Headers", "header"],
  ];
  for (const [title, where] of groups) {
    const params = (op.parameters ?? []).filter((p) => p.in === where);
    if (params.length === 0) continue;
    const rows = params
      .map(
        (p) =>
          `<tr><td><code>${esc(p.name)}</code>${p.required ? "" : ' <span class="opt">optional</span>'}</td><td>${typeHtml(p.schema)}</td><td>${notes(p.schema, p.description)}</td></tr>`,
      )
      .join("");
    parts.push(`<h4>${title}</h4><table><tbody>${rows}</tbody></table>`);
  }
  if (op.requestBody) {
    for (const [type, { schema }] of Object.entries(op.requestBody.content)) {
      parts.push(`<h4>Request body <span class="ct">${esc(type)}</span></h4>${schemaHtml(schema, doc)}`);
    }
  }
  parts.push('<h4>Responses</h4><dl class="responses">');
  for (const [status, given] of Object.entries(op.responses)) {
    const response = resolve(given, doc);
    parts.push(
      `<dt class="s${esc(status[0] ?? "")}">${esc(status)}</dt><dd>${inline(String(response.description ?? ""))}`,
    );
    const content = (response.content ?? {}) as Record<string, { schema: Json }>;
    // The shared error responses are described once, under Errors.
    if (!("$ref" in given)) {
      for (const [type, { schema }] of Object.entries(content)) {
        parts.push(`<div class="ct">${esc(type)}</div>${schemaHtml(schema, doc)}`);
      }
    }
    parts.push("</dd>");
  }
  parts.push("</dl></article>");
  return parts.join("");
}

function securityText(op: Operation, doc: OpenApiDocument): string {
  if (op.security.length === 0) return "No key needed.";
  const options = op.security.map((requirement) =>
    Object.keys(requirement)
      .map((name) => {
        const scheme = doc.components.securitySchemes[name];
        return `<code>${esc(name)}</code>${scheme ? ` (${esc(schemeText(scheme))})` : ""}`;
      })
      .join(" + "),
  );
  return `Send one of: ${options.join("; ")}.`;
}

function schemeText(scheme: Json): string {
  if (scheme.type === "http")
    return `Authorization: ${String(scheme.scheme) === "bearer" ? "Bearer" : String(scheme.scheme)} <key>`;
  if (scheme.in === "cookie") return `cookie ${String(scheme.name)}`;
  return `header ${String(scheme.name)}`;
}

/** A schema as a table of its fields (nested objects flattened as `a.b`, array items as `a[].b`), or its type. */
function schemaHtml(schema: Json, doc: OpenApiDocument): string {
  const target = objectOf(schema, doc);
  if (!target) return `<p class="type">${typeHtml(schema)}${noteSuffix(schema)}</p>`;
  const intro = typeof schema.$ref === "string" ? `<p class="type">${typeHtml(schema)}:</p>` : "";
  const rows: string[] = [];
  fieldRows(target, "", rows, doc, 0);
  if (rows.length === 0) return `${intro}<p class="type">${typeHtml(schema)}${noteSuffix(target)}</p>`;
  const extra = target.additionalProperties === false ? "" : '<p class="note">Other fields are allowed.</p>';
  return `${intro}${target.description && intro === "" ? text(String(target.description)) : ""}<table><thead><tr><th>field</th><th>type</th><th></th></tr></thead><tbody>${rows.join("")}</tbody></table>${extra}`;
}

/** A `$ref`'s or a union's object part, when the schema is an object with named fields. */
function objectOf(schema: Json, doc: OpenApiDocument): Json | null {
  const resolved = resolve(schema, doc);
  if (resolved.type === "object" && resolved.properties) return resolved;
  return null;
}

function fieldRows(object: Json, prefix: string, rows: string[], doc: OpenApiDocument, depth: number): void {
  const required = new Set(Array.isArray(object.required) ? (object.required as string[]) : []);
  for (const [name, property] of Object.entries((object.properties ?? {}) as Record<string, Json>)) {
    const path = `${prefix}${name}`;
    rows.push(
      `<tr><td><code>${esc(path)}</code>${required.has(name) ? "" : ' <span class="opt">optional</span>'}</td><td>${typeHtml(property)}</td><td>${notes(property)}</td></tr>`,
    );
    if (depth > 4) continue;
    // Inline objects (not named schemas, which have their own section) are spelled out below their field.
    const inner = withoutNull(property);
    if (inner.type === "object" && inner.properties) fieldRows(inner, `${path}.`, rows, doc, depth + 1);
    const items = inner.type === "array" && isObject(inner.items) ? withoutNull(inner.items) : null;
    if (items?.type === "object" && items.properties) fieldRows(items, `${path}[].`, rows, doc, depth + 1);
  }
}

/** The non-null member of `T or null`. */
function withoutNull(schema: Json): Json {
  if (!Array.isArray(schema.anyOf)) return schema;
  const rest = (schema.anyOf as Json[]).filter((member) => member.type !== "null");
  return rest.length === 1 && rest[0] ? rest[0] : schema;
}

function typeHtml(schema: Json): string {
  if (typeof schema.$ref === "string") {
    const name = schema.$ref.split("/").at(-1) ?? schema.$ref;
    return `<a href="#${anchor("schema", name)}">${esc(name)}</a>`;
  }
  if ("const" in schema) return `<code>${esc(JSON.stringify(schema.const))}</code>`;
  if (Array.isArray(schema.enum))
    return schema.enum.map((value) => `<code>${esc(JSON.stringify(value))}</code>`).join(" | ");
  if (Array.isArray(schema.anyOf)) {
    const members = schema.anyOf as Json[];
    return members.map((m) => typeHtml(m)).join(members.every((m) => "const" in m) ? " | " : " or ");
  }
  const type = schema.type;
  if (type === "array") return `array of ${isObject(schema.items) ? typeHtml(schema.items) : "any"}`;
  if (type === "string" && typeof schema.format === "string")
    return `string <span class="fmt">(${esc(schema.format)})</span>`;
  if (type === "object") return schema.properties ? "object" : 'object <span class="fmt">(any fields)</span>';
  if (typeof type === "string") return esc(type);
  return "any JSON value";
}

/** Constraints and the description of a schema, as short text. */
function notes(schema: Json, description?: string): string {
  const out: string[] = [];
  const add = (s: Json, prefix = "") => {
    if (typeof s.minLength === "number" || typeof s.maxLength === "number") {
      out.push(`${prefix}${range(s.minLength, s.maxLength)} characters`);
    }
    if (typeof s.pattern === "string") out.push(`${prefix}pattern <code>${esc(s.pattern)}</code>`);
    if (typeof s.minimum === "number" || typeof s.maximum === "number")
      out.push(`${prefix}${range(s.minimum, s.maximum)}`);
    if (typeof s.minItems === "number" || typeof s.maxItems === "number") {
      out.push(`${prefix}${range(s.minItems, s.maxItems)} items`);
    }
    if (s.uniqueItems === true) out.push(`${prefix}no duplicates`);
  };
  const inner = withoutNull(schema);
  add(inner);
  if (isObject(inner.items)) add(inner.items, "each: ");
  const text = description ?? (typeof schema.description === "string" ? schema.description : undefined);
  return [...out, ...(text ? [inline(text)] : [])].join("; ");
}

function noteSuffix(schema: Json): string {
  const n = notes(schema);
  return n ? ` — ${n}` : "";
}

function range(min: unknown, max: unknown): string {
  if (typeof min === "number" && typeof max === "number") return `${min}–${max}`;
  if (typeof min === "number") return `at least ${min}`;
  return `at most ${String(max)}`;
}

/** Follows a local `$ref` (`#/components/...`). */
function resolve(schema: Json, doc: OpenApiDocument): Json {
  if (typeof schema.$ref !== "string") return schema;
  let node: unknown = doc;
  for (const part of schema.$ref.replace(/^#\//, "").split("/")) {
    node = isObject(node) ? node[part.replaceAll("~1", "/").replaceAll("~0", "~")] : undefined;
  }
  return isObject(node) ? resolve(node, doc) : {};
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function anchor(kind: string, name: string): string {
  return `${kind}-${name.replace(/[^A-Za-z0-9_-]+/g, "-")}`;
}

/** Paragraphs separated by blank lines. */
function text(value: string): string {
  return value
    .split(/\n\s*\n/)
    .filter((paragraph) => paragraph.trim() !== "")
    .map((paragraph) => `<p>${inline(paragraph)}</p>`)
    .join("");
}

/** Escaped text with `code` spans. */
function inline(value: string): string {
  return esc(value).replace(/`([^`]+)`/g, "<code>$1</code>");
}

function esc(value: string): string {
  return value
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

const STYLE = `
:root{color-scheme:light dark;--fg:#1d2330;--muted:#5b6475;--bg:#fff;--panel:#f5f7fa;--line:#dde2ea;--accent:#3653d4}
@media (prefers-color-scheme:dark){:root{--fg:#e4e8ef;--muted:#9aa3b5;--bg:#12151b;--panel:#1b2029;--line:#2c3340;--accent:#8aa2ff}}
*{box-sizing:border-box}
body{margin:0;font:15px/1.55 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg);display:flex}
nav{position:sticky;top:0;height:100vh;overflow:auto;width:19rem;flex:none;padding:1rem;border-right:1px solid var(--line);background:var(--panel);font-size:13px}
nav ul{list-style:none;margin:0;padding:0}nav ul ul{margin:0 0 .6rem .4rem}nav li{margin:.15rem 0}
nav a{color:var(--fg);text-decoration:none}nav a:hover{color:var(--accent)}
.brand{font-weight:600;font-size:15px;margin:0 0 1rem}
main{flex:1;min-width:0;max-width:62rem;padding:1.5rem 2.5rem 6rem}
h1 small{font-size:.55em;color:var(--muted);font-weight:400}
h2{margin-top:3rem;padding-top:1rem;border-top:2px solid var(--line)}
h3{margin:0 0 .3rem;font-size:1.05rem}h4{margin:1rem 0 .3rem;font-size:.9rem;color:var(--muted);text-transform:uppercase;letter-spacing:.03em}
a{color:var(--accent)}
code{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;background:var(--panel);padding:0 .25em;border-radius:3px;overflow-wrap:anywhere}
.op,.schema{border:1px solid var(--line);border-radius:6px;padding:1rem 1.2rem;margin:1.2rem 0}
.op .path{font-size:15px;background:none}
.summary{margin:.2rem 0;font-weight:500}.auth{color:var(--muted);font-size:13px;margin:.2rem 0 .6rem}
.m{display:inline-block;min-width:3.6em;text-align:center;font:600 11px/1.8 ui-monospace,monospace;border-radius:3px;color:#fff;background:#6b7280;padding:0 .3em}
.m.get{background:#2f7d4f}.m.post{background:#3653d4}.m.patch{background:#a15c00}.m.delete{background:#b4232a}
table{border-collapse:collapse;width:100%;font-size:13px;margin:.3rem 0}
th,td{text-align:left;vertical-align:top;padding:.3rem .5rem;border-bottom:1px solid var(--line)}
th{color:var(--muted);font-weight:500}
td:first-child{white-space:nowrap}
.opt,.fmt,.note,.ct{color:var(--muted);font-size:12px;font-weight:400;text-transform:none;letter-spacing:0}
dl.responses{margin:0}dl.responses dt{font:600 13px ui-monospace,monospace;margin-top:.6rem}
dl.responses dt.s2,dl.responses dt.s1{color:#2f7d4f}dl.responses dt.s4,dl.responses dt.s5{color:#b4232a}
dl.responses dd{margin:0 0 0 1.2rem}
.type{margin:.3rem 0}
@media (max-width:800px){body{display:block}nav{position:static;height:auto;width:auto}main{padding:1rem}}
`;
