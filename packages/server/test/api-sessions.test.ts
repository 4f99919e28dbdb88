import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { pino } from "pino";
import { loadConfig } from "../src/config.ts";
import { startHookline } from "../src/hookline.ts";
import { assertError, newAccount } from "./helpers/api.ts";
import type { Response } from "./helpers/client.ts";
import { startTestHookline, type TestHookline, tempDir } from "./helpers/hookline.ts";

/** A browser-like client: holds the session cookie and sends the dashboard's headers. */
function browser(baseUrl: string) {
  const jar = new Map<string, string>();
  let csrf = "";
  const state = { headers: {} as Record<string, string> };
  async function call(method: string, path: string, body?: unknown, extra: Record<string, string> = {}) {
    const response = await fetch(new URL(path, baseUrl), {
      method,
      headers: {
        ...(jar.size ? { cookie: [...jar].map(([name, value]) => `${name}=${value}`).join("; ") } : {}),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
        ...state.headers,
        ...extra,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    for (const line of response.headers.getSetCookie()) {
      const [name, value] = (line.split(";")[0] as string).split("=") as [string, string];
      if (value === "") jar.delete(name);
      else jar.set(name, value);
    }
    const text = await response.text();
    const result: Response = {
      status: response.status,
      headers: response.headers,
      body: text ? JSON.parse(text) : null,
    };
    if (typeof result.body?.csrf_token === "string") csrf = result.body.csrf_token;
    return result;
  }
  return {
    state,
    /** The operator's session cookie, as the browser would send it. */
    get cookie() {
      return `hookline_session=${jar.get("hookline_session")}`;
    },
    jar,
    get: (path: string) => call("GET", path),
    /** A change, with the CSRF token as the dashboard sends it. */
    send: (method: string, path: string, body?: unknown) => call(method, path, body, { "x-csrf-token": csrf }),
    /** A change without the CSRF token: what a forged cross-site form would send. */
    forge: (method: string, path: string, body?: unknown) => call(method, path, body),
  };
}

describe("dashboard sessions and portal links", () => {
  let h: TestHookline;

  before(async () => {
    h = await startTestHookline();
  });
  after(async () => {
    await h.stop();
  });

  it("the admin key makes an HttpOnly, SameSite=Strict session; a wrong key is 401 and sets nothing", async () => {
    const b = browser(h.url);
    assertError(await b.get("/v1/session"), 401, "unauthorized");
    const wrong = await b.send("POST", "/v1/sessions", { admin_key: "hl_admin_wrong" });
    assertError(wrong, 401, "invalid_credentials");
    assert.equal(wrong.headers.get("set-cookie"), null);
    const login = await b.send("POST", "/v1/sessions", { admin_key: h.keys.admin });
    assert.equal(login.status, 201, JSON.stringify(login.body));
    assert.equal(login.body.kind, "admin");
    assert.equal(login.body.account, null);
    const setCookie = login.headers.get("set-cookie") ?? "";
    assert.match(setCookie, /^hookline_session=[A-Za-z0-9]{40};/);
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    assert.match(setCookie, /Path=\//);
    assert.doesNotMatch(JSON.stringify(login.body), /hookline_session|hl_admin_/, "no secret in the JSON");
    const again = await b.get("/v1/session");
    assert.equal(again.status, 200);
    assert.equal(again.body.csrf_token, login.body.csrf_token);
  });

  it("a new login replaces the session id (no fixation), and logout ends it", async () => {
    const b = browser(h.url);
    await b.send("POST", "/v1/sessions", { admin_key: h.keys.admin });
    const first = b.cookie;
    await b.send("POST", "/v1/sessions", { admin_key: h.keys.admin });
    assert.notEqual(b.cookie, first);
    const stale = await fetch(new URL("/v1/session", h.url), { headers: { cookie: first } });
    assert.equal(stale.status, 200, "an older session of the same browser stays valid until it expires or logs out");
    assertError(await b.forge("DELETE", "/v1/session"), 403, "csrf_token_invalid");
    const out = await b.send("DELETE", "/v1/session");
    assert.equal(out.status, 204);
    assert.match(out.headers.get("set-cookie") ?? "", /hookline_session=;/);
    assertError(await b.get("/v1/session"), 401, "unauthorized");
  });

  it("changes need the CSRF token; without it nothing is written", async () => {
    const b = browser(h.url);
    await b.send("POST", "/v1/sessions", { admin_key: h.keys.admin });
    const forged = await b.forge("POST", "/v1/accounts", { name: "forged" });
    assertError(forged, 403, "csrf_token_invalid");
    const wrongToken = await fetch(new URL("/v1/accounts", h.url), {
      method: "POST",
      headers: { cookie: b.cookie, "content-type": "application/json", "x-csrf-token": "x".repeat(32) },
      body: JSON.stringify({ name: "forged" }),
    });
    assert.equal(wrongToken.status, 403);
    const names = (await b.get("/v1/accounts?limit=250")).body.data.map((a: { name: string }) => a.name);
    assert.ok(!names.includes("forged"));
    const made = await b.send("POST", "/v1/accounts", { name: "made from the dashboard" });
    assert.equal(made.status, 201);
  });

  it("an operator session opens any account by header, and an unknown one is 404", async () => {
    const acme = await newAccount(h, "acme");
    const b = browser(h.url);
    await b.send("POST", "/v1/sessions", { admin_key: h.keys.admin });
    assertError(await b.get("/v1/endpoints"), 400, "invalid_request");
    b.state.headers = { "hookline-environment": "test" };
    assertError(await b.get("/v1/endpoints"), 400, "invalid_request");
    b.state.headers = { "hookline-environment": "test", "hookline-account": "acct_unknown" };
    assertError(await b.get("/v1/endpoints"), 404, "not_found");
    b.state.headers = { "hookline-environment": "test", "hookline-account": acme.id };
    const created = await b.send("POST", "/v1/endpoints", { url: "http://127.0.0.1:9/hooks" });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const seenByKey = await acme.test.get(`/v1/endpoints/${created.body.id}`);
    assert.equal(seenByKey.status, 200, "the endpoint is the account's own, in TEST");
    assert.equal((await acme.live.get(`/v1/endpoints/${created.body.id}`)).status, 404);
    b.state.headers = { "hookline-environment": "live", "hookline-account": acme.id };
    const refused = await b.send("POST", "/v1/endpoints", { url: "http://localhost:3000/hooks" });
    assertError(refused, 422, "url_rejected");
    assert.match(refused.body.error.message, /localhost/);
  });

  it("a portal link opens its own account once, with its theme, and nothing else", async () => {
    const a = await newAccount(h, "portal A");
    const other = await newAccount(h, "portal B");
    const foreign = (await other.test.post("/v1/endpoints", { url: "http://127.0.0.1:9/b" })).body;
    await a.test.post("/v1/endpoints", { url: "http://127.0.0.1:9/a" });

    assertError(await a.test.post(`/v1/accounts/${a.id}/portal-link`, {}), 403, "forbidden");
    assertError(await h.admin.post("/v1/accounts/acct_nope/portal-link", {}), 404, "not_found");
    assertError(await h.admin.post(`/v1/accounts/${a.id}/portal-link`, { expires_in_s: 5 }), 400);
    const link = await h.admin.post(`/v1/accounts/${a.id}/portal-link`, {
      expires_in_s: 600,
      theme: { product_name: "Acme Pay", accent_color: "#0a7cff", logo_url: "https://acme.example/logo.svg" },
    });
    assert.equal(link.status, 201, JSON.stringify(link.body));
    const url = new URL(link.body.url);
    assert.equal(url.origin, h.url);
    assert.equal(url.pathname, "/portal");
    assert.match(url.hash, /^#plt_[A-Za-z0-9]{40}$/);
    const expiresIn = Date.parse(link.body.expires_at) - Date.now();
    assert.ok(expiresIn > 590_000 && expiresIn <= 600_000, `expires in ${expiresIn} ms`);

    const b = browser(h.url);
    const token = url.hash.slice(1);
    const session = await b.send("POST", "/v1/sessions", { portal_token: token });
    assert.equal(session.status, 201, JSON.stringify(session.body));
    assert.equal(session.body.kind, "account");
    assert.deepEqual(session.body.account, { id: a.id, name: "portal A" });
    assert.deepEqual(session.body.theme, {
      product_name: "Acme Pay",
      accent_color: "#0a7cff",
      logo_url: "https://acme.example/logo.svg",
    });
    assert.match(session.headers.get("set-cookie") ?? "", /^hookline_portal=.*HttpOnly/);
    assertError(await browser(h.url).send("POST", "/v1/sessions", { portal_token: token }), 401, "invalid_credentials");
    // The portal cookie is used only when the page names it (a cross-site request cannot send this header).
    assertError(await b.get("/v1/session"), 401, "unauthorized");
    b.state.headers = { "hookline-session": "portal" };
    assert.equal((await b.get("/v1/session")).body.kind, "account");

    // Its own account only: operator routes are 403, another account's ids 404, a header naming another account is ignored.
    assertError(await b.get("/v1/accounts"), 403, "forbidden");
    assertError(await b.send("POST", `/v1/accounts/${other.id}/portal-link`, {}), 403, "forbidden");
    b.state.headers = { "hookline-session": "portal", "hookline-environment": "test", "hookline-account": other.id };
    const listed = await b.get("/v1/endpoints");
    assert.equal(listed.status, 200);
    assert.deepEqual(
      listed.body.data.map((e: { url: string }) => e.url),
      ["http://127.0.0.1:9/a"],
    );
    assertError(await b.get(`/v1/endpoints/${foreign.id}`), 404, "not_found");
    assertError(await b.send("DELETE", `/v1/endpoints/${foreign.id}`), 404, "not_found");
    assert.equal((await other.test.get(`/v1/endpoints/${foreign.id}`)).status, 200, "B's endpoint is untouched");
  });

  it("a portal link opened in the operator's browser leaves the operator's session as it was", async () => {
    const { id } = await newAccount(h, "side by side");
    const b = browser(h.url);
    await b.send("POST", "/v1/sessions", { admin_key: h.keys.admin });
    const link = await h.admin.post(`/v1/accounts/${id}/portal-link`);
    assert.equal(link.status, 201, "no body at all is fine: every field is optional");
    await b.send("POST", "/v1/sessions", { portal_token: new URL(link.body.url).hash.slice(1) });
    assert.deepEqual([...b.jar.keys()].sort(), ["hookline_portal", "hookline_session"]);
    const operator = await b.get("/v1/session");
    assert.equal(operator.body.kind, "admin");
    assert.equal((await b.get("/v1/accounts")).status, 200);
    b.state.headers = { "hookline-session": "portal" };
    assert.equal((await b.get("/v1/session")).body.kind, "account");
  });

  it("serves the dashboard: never framed, except the portal pages", async () => {
    const page = await fetch(new URL("/", h.url));
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /text\/html/);
    assert.match(page.headers.get("content-security-policy") ?? "", /frame-ancestors 'none'/);
    assert.equal(page.headers.get("x-frame-options"), "DENY");
    const html = await page.text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(script, `index.html names its script: ${html}`);
    const asset = await fetch(new URL(script, h.url));
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get("cache-control") ?? "", /immutable/);
    for (const path of ["/accounts/acct_x/test/events", "/login"]) {
      assert.equal((await fetch(new URL(path, h.url))).status, 200, path);
    }
    const portal = await fetch(new URL("/portal/test/endpoints", h.url));
    assert.equal(portal.status, 200);
    assert.match(portal.headers.get("content-security-policy") ?? "", /frame-ancestors \*/);
    assert.equal(portal.headers.get("x-frame-options"), null);
    assert.equal((await fetch(new URL("/assets/", h.url))).status, 404);
  });

  it("portal pages may be framed only by portal_frame_ancestors; operator pages never", async () => {
    const sites = "https://app.acme.example, https://*.acme.example:8443";
    for (const [setting, expected] of [
      [sites, "frame-ancestors https://app.acme.example https://*.acme.example:8443"],
      ["'self'", "frame-ancestors 'self'"],
      ["'none'", "frame-ancestors 'none'"],
    ] as const) {
      const configured = await startTestHookline({ HOOKLINE_PORTAL_FRAME_ANCESTORS: setting });
      try {
        for (const path of ["/", "/login", "/accounts", "/accounts/acct_x/test/events"]) {
          const page = await fetch(new URL(path, configured.url));
          const policy = page.headers.get("content-security-policy") ?? "";
          assert.match(policy, /(^|; )frame-ancestors 'none'(;|$)/, `${path} with ${setting}`);
          assert.equal(page.headers.get("x-frame-options"), "DENY", `${path} with ${setting}`);
        }
        for (const path of ["/portal", "/portal/test/endpoints", "/portal/live/events/evt_x"]) {
          const page = await fetch(new URL(path, configured.url));
          assert.equal(page.status, 200, path);
          const directives = (page.headers.get("content-security-policy") ?? "").split("; ");
          assert.deepEqual(
            directives.filter((d) => d.startsWith("frame-ancestors")),
            [expected],
            `${path} with ${setting}`,
          );
          // X-Frame-Options cannot name sites: sent only when nobody may frame the portal.
          assert.equal(page.headers.get("x-frame-options"), setting === "'none'" ? "DENY" : null, path);
        }
      } finally {
        await configured.stop();
      }
    }
  });

  it("a cross-site form (urlencoded, text/plain, multipart, no type) with the session cookie writes nothing", async () => {
    const b = browser(h.url);
    await b.send("POST", "/v1/sessions", { admin_key: h.keys.admin });
    const { id, test } = await newAccount(h, "form target");
    const accountsBefore = JSON.stringify((await h.admin.get("/v1/accounts?limit=250")).body);
    const endpointsOf = async () => JSON.stringify((await test.get("/v1/endpoints")).body);
    const endpointsBefore = await endpointsOf();
    // What an <form method=post> on another site can send: a simple content type, the cookies, no custom header.
    const forms: [string, string | undefined, string][] = [
      ["/v1/accounts", "application/x-www-form-urlencoded", "name=forged"],
      ["/v1/accounts", "text/plain", '{"name":"forged"}'],
      [
        "/v1/accounts",
        "multipart/form-data; boundary=x",
        '--x\r\ncontent-disposition: form-data; name="name"\r\n\r\nforged\r\n--x--',
      ],
      ["/v1/accounts", undefined, '{"name":"forged"}'],
      [`/v1/accounts/${id}/portal-link`, "text/plain", "{}"],
      ["/v1/endpoints", "text/plain", '{"url":"http://127.0.0.1:9/forged"}'],
    ];
    for (const [path, type, body] of forms) {
      const response = await fetch(new URL(path, h.url), {
        method: "POST",
        headers: { cookie: b.cookie, origin: "https://evil.example", ...(type ? { "content-type": type } : {}) },
        body: type ? body : new Blob([body]),
      });
      const answer = { status: response.status, headers: response.headers, body: await response.json() };
      assertError(answer, 403, "csrf_token_invalid");
    }
    assert.equal(JSON.stringify((await h.admin.get("/v1/accounts?limit=250")).body), accountsBefore);
    assert.equal(await endpointsOf(), endpointsBefore);
    // Logging the victim in to the attacker's session (login CSRF) needs a JSON body: a form's is refused.
    for (const [type, body] of [
      ["text/plain", JSON.stringify({ admin_key: h.keys.admin })],
      ["application/x-www-form-urlencoded", `admin_key=${h.keys.admin}`],
    ]) {
      const login = await fetch(new URL("/v1/sessions", h.url), {
        method: "POST",
        headers: { "content-type": type as string, origin: "https://evil.example" },
        body,
      });
      assert.equal(login.status, 415, type);
      assert.equal(login.headers.get("set-cookie"), null, type);
    }
  });

  it("a planted session id is never promoted: login makes a new one, the planted one stays whatever it was", async () => {
    // A made-up id: refused before and after the login that carried it.
    const planted = `hookline_session=${"p".repeat(40)}`;
    const login = await fetch(new URL("/v1/sessions", h.url), {
      method: "POST",
      headers: { cookie: planted, "content-type": "application/json" },
      body: JSON.stringify({ admin_key: h.keys.admin }),
    });
    assert.equal(login.status, 201);
    assert.notEqual((login.headers.get("set-cookie") ?? "").split(";")[0], planted);
    assertError(await sessionOf(planted), 401, "unauthorized");
    // A real session of the attacker's own (a portal of account A) planted before the victim opens B's link.
    const a = await newAccount(h, "attacker");
    const v = await newAccount(h, "victim");
    const attacker = await portalLogin(a.id);
    const victim = await fetch(new URL("/v1/sessions", h.url), {
      method: "POST",
      headers: { cookie: attacker, "content-type": "application/json" },
      body: JSON.stringify({ portal_token: await portalToken(v.id) }),
    });
    assert.equal(victim.status, 201);
    const victimCookie = (victim.headers.get("set-cookie") ?? "").split(";")[0] as string;
    assert.notEqual(victimCookie, attacker);
    assert.equal((await sessionOf(victimCookie, "portal")).body.account.id, v.id);
    assert.equal((await sessionOf(attacker, "portal")).body.account.id, a.id, "the planted id never reaches B");
  });

  async function portalToken(accountId: string): Promise<string> {
    const link = await h.admin.post(`/v1/accounts/${accountId}/portal-link`, {});
    return new URL(link.body.url).hash.slice(1);
  }

  async function portalLogin(accountId: string): Promise<string> {
    const login = await fetch(new URL("/v1/sessions", h.url), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ portal_token: await portalToken(accountId) }),
    });
    return (login.headers.get("set-cookie") ?? "").split(";")[0] as string;
  }

  async function sessionOf(cookie: string, kind?: "portal"): Promise<Response> {
    const response = await fetch(new URL("/v1/session", h.url), {
      headers: { cookie, ...(kind ? { "hookline-session": kind } : {}) },
    });
    return { status: response.status, headers: response.headers, body: await response.json() };
  }
});

describe("dashboard sessions behind https, and after the admin key changes", () => {
  it("with an https public URL, cookies are Secure and the portal's is SameSite=None; Partitioned", async () => {
    const h = await startTestHookline({ HOOKLINE_PUBLIC_URL: "https://hooks.example.com" });
    try {
      const operator = await fetch(new URL("/v1/sessions", h.url), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ admin_key: h.keys.admin }),
      });
      const operatorCookie = operator.headers.get("set-cookie") ?? "";
      assert.match(operatorCookie, /; Secure/);
      assert.match(operatorCookie, /SameSite=Strict/);
      const { id } = await newAccount(h, "embedded");
      const link = (await h.admin.post(`/v1/accounts/${id}/portal-link`, {})).body.url as string;
      assert.match(link, /^https:\/\/hooks\.example\.com\/portal#plt_/);
      const portal = await fetch(new URL("/v1/sessions", h.url), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ portal_token: new URL(link).hash.slice(1) }),
      });
      const portalCookie = portal.headers.get("set-cookie") ?? "";
      assert.match(portalCookie, /^hookline_portal=/);
      assert.match(portalCookie, /; Secure/);
      assert.match(portalCookie, /SameSite=None/);
      assert.match(portalCookie, /Partitioned/);
    } finally {
      await h.stop();
    }
  });

  it("replacing the admin key ends the operator sessions opened with the old one", async () => {
    const dir = tempDir();
    const start = (env: Record<string, string>) =>
      startHookline(
        loadConfig({ env: { HOOKLINE_PORT: "0", HOOKLINE_DATA_DIR: dir.path, ...env } }),
        pino({ level: "silent" }),
      );
    try {
      const first = await start({ HOOKLINE_ADMIN_KEY: "hl_admin_first_key_0123456789abcdef" });
      const login = await fetch(new URL("/v1/sessions", first.url), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ admin_key: "hl_admin_first_key_0123456789abcdef" }),
      });
      const cookie = (login.headers.get("set-cookie") ?? "").split(";")[0] as string;
      assert.equal((await fetch(new URL("/v1/accounts", first.url), { headers: { cookie } })).status, 200);
      await first.stop();
      const second = await start({ HOOKLINE_ADMIN_KEY: "hl_admin_second_key_0123456789abcdef" });
      try {
        assert.equal((await fetch(new URL("/v1/accounts", second.url), { headers: { cookie } })).status, 401);
      } finally {
        await second.stop();
      }
    } finally {
      dir.remove();
    }
  });
});
