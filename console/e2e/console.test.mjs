// @ts-check
// The console end to end: a keyplane on a fresh database (run.sh starts it
// and passes KEYPLANE_URL and the root token), set up through the API, then
// driven in headless Chromium with playwright-core as a person would: sign
// in, create a key limited to one workspace, copy its secret, use it with
// x-api-key, rotate, revoke, delete; a Member sees no API keys. Each main
// page is photographed into KEYPLANE_SCREENSHOTS at 1280×800, and some at
// phone width.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";

const base = required("KEYPLANE_URL");
const root = required("KEYPLANE_TOKEN");
const shots = required("KEYPLANE_SCREENSHOTS");
const executablePath = process.env.KEYPLANE_CHROMIUM ?? "/usr/bin/chromium";

/** @param {string} name */
function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run console/e2e/run.sh`);
  return v;
}

/**
 * One API call; returns the status and the parsed body.
 * @param {string} method
 * @param {string} path
 * @param {{ body?: unknown, token?: string, apiKey?: string }} [o]
 * @returns {Promise<{ status: number, body: any }>}
 */
async function call(method, path, o = {}) {
  /** @type {Record<string, string>} */
  const headers = {};
  if (o.apiKey) headers["x-api-key"] = o.apiKey;
  else headers.Authorization = `Bearer ${o.token ?? root}`;
  if (o.body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(base + path, { method, headers, body: o.body === undefined ? undefined : JSON.stringify(o.body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/**
 * An API call that must answer want; returns the body.
 * @param {number} want
 * @param {string} method
 * @param {string} path
 * @param {{ body?: unknown, token?: string, apiKey?: string }} [o]
 */
async function must(want, method, path, o) {
  const r = await call(method, path, o);
  assert.equal(r.status, want, `${method} ${path}: ${JSON.stringify(r.body)}`);
  return r.body;
}

const password = "correct horse battery staple";
/** @type {{ org: string, hq: string, lab: string, device: string, connector: string }} */
const ids = { org: "", hq: "", lab: "", device: "", connector: "" };
/** The secret of a key made in the setup, which the pasted-key test signs in with. */
let readerSecret = "";

/** Resolves when the webhook receiver has answered its first delivery. */
let delivered = () => {};
const firstDelivery = new Promise((ok) => (delivered = () => ok(undefined)));

/** A webhook receiver for the connector's deliveries. */
const receiver = createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(204).end();
    delivered();
  });
});

/**
 * Waits until the connector has a delivery recorded as DELIVERED: the receiver
 * answered, and the worker records the attempt after that answer.
 */
async function deliveredRecorded() {
  await firstDelivery;
  for (let deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    const page = await must(200, "GET", `/v3/output-connectors/${ids.connector}/deliveries?status=DELIVERED`);
    if (page.content.length > 0) return;
    await new Promise((ok) => setTimeout(ok, 50));
  }
  assert.fail("no delivery recorded as DELIVERED within 30 s of the receiver's answer");
}

/** @type {import("playwright-core").Browser} */
let browser;

before(async () => {
  mkdirSync(shots, { recursive: true });
  await new Promise((ok) => receiver.listen(0, "127.0.0.1", () => ok(undefined)));
  const addr = receiver.address();
  assert(addr && typeof addr === "object");

  ids.org = (await must(201, "POST", "/v3/organizations", { body: { name: "Acme" } })).id;
  ids.hq = (await must(201, "POST", "/v3/workspaces", { body: { name: "HQ", organizationId: ids.org } })).id;
  ids.lab = (await must(201, "POST", "/v3/workspaces", { body: { name: "Lab", organizationId: ids.org } })).id;
  for (const [userName, role] of [["alice", "ADMIN"], ["bob", "MEMBER"]]) {
    const u = await must(201, "POST", "/users", { body: { userName, password, displayName: userName === "alice" ? "Alice Admin" : "Bob Member", isActive: true } });
    await must(200, "PUT", `/v3/organizations/${ids.org}/members/${u.id}`, { body: { role } });
    // The Member views one workspace.
    if (role === "MEMBER") await must(200, "PUT", `/v3/workspaces/${ids.hq}/members/${u.id}`, { body: { role: "VIEWER" } });
  }

  // A device with samples over the last day, a tag, and a webhook connector on its data flow.
  const hook = await must(201, "POST", "/v3/output-connectors", {
    body: { name: "Receiver", type: "WEBHOOK", scope: "DATA_FLOW", workspaceId: ids.hq, webhookProperties: { uri: `http://127.0.0.1:${addr.port}/hook` } },
  });
  ids.connector = hook.id;
  const dt = await must(201, "POST", "/v3/device-types", {
    body: { name: "Climate", workspaceId: ids.hq, schemas: { default: { type: "object", properties: { temperature: { type: "number" }, humidity: { type: "number" } } } } },
  });
  const flow = await must(201, "POST", "/v3/data-flows", {
    body: { name: "Climate", workspaceId: ids.hq, deviceTypeId: dt.id, outputConnectors: [{ id: "0900000000000000" }, { id: hook.id }] },
  });
  const tag = await must(201, "POST", "/v3/tags", { body: { name: "Ground floor", workspaceId: ids.hq } });
  ids.device = (
    await must(201, "POST", "/v3/devices", {
      body: { name: "Lobby", workspaceId: ids.hq, deviceId: "70B3D57ED0001234", dataFlowId: flow.id, tags: [{ id: tag.id }] },
    })
  ).id;
  await must(201, "POST", "/v3/devices", { body: { name: "Roof", workspaceId: ids.hq, deviceId: "70B3D57ED0005678", dataFlowId: flow.id } });
  const now = Date.now();
  const samples = Array.from({ length: 12 }, (_, i) => ({
    timestamp: new Date(now - (11 - i) * 2 * 3600_000 - 60_000).toISOString(),
    data: { temperature: 20 + Math.sin(i / 2) * 3, humidity: 40 + i },
  }));
  const bulk = await call("POST", `/v3/devices/${ids.device}/backfill/bulk`, { body: samples });
  assert(bulk.status < 300, `backfill: ${bulk.status} ${JSON.stringify(bulk.body)}`);

  readerSecret = (
    await must(201, "POST", "/apikeys", {
      body: { name: "Org reader", description: "Reads the organization", isActive: true, organizationId: ids.org, permissions: [{ scope: "ORGANIZATION", verbs: ["READ"] }] },
    })
  ).clientSecret;

  browser = await chromium.launch({ executablePath, headless: true });
});

after(async () => {
  await browser?.close();
  receiver.close();
});

/**
 * A fresh browser context and page at 1280×800 that records CSP violations.
 * @returns {Promise<{ page: import("playwright-core").Page, violations: string[], close: () => Promise<void> }>}
 */
async function openPage() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, reducedMotion: "reduce", timezoneId: "UTC", locale: "en-GB" });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  /** @type {string[]} */
  const violations = [];
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy|Refused to/.test(m.text())) violations.push(m.text());
  });
  page.on("pageerror", (e) => violations.push(`page error: ${e.message}`));
  return { page, violations, close: () => context.close() };
}

/**
 * Writes a screenshot of the page to the screenshots directory. A secret on
 * the page is masked: a committed picture shows none, not even a test's.
 * @param {import("playwright-core").Page} page
 * @param {string} name
 */
async function shot(page, name) {
  await page.waitForLoadState("networkidle");
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: false, mask: [page.getByTestId("secret")] });
}

/**
 * Signs in with a user name and password on the console's sign-in page.
 * @param {import("playwright-core").Page} page
 * @param {string} userName
 * @param {string} pw
 */
async function signIn(page, userName, pw) {
  await page.goto(`${base}/console`);
  const form = page.getByRole("form", { name: "Sign in with a password" });
  await form.getByLabel("User name").fill(userName);
  await form.getByLabel("Password").fill(pw);
  await form.getByRole("button", { name: "Sign in" }).click();
}

test("an admin manages an API key in the console", async (t) => {
  const { page, violations, close } = await openPage();
  t.after(close);
  let secret = "";
  let keyId = "";

  await t.test("a wrong password shows the problem's title", async () => {
    await signIn(page, "alice", "wrong password");
    await page.getByRole("alert").waitFor();
    assert.match(await page.getByRole("alert").innerText(), /401/);
    await shot(page, "sign-in");
  });

  await t.test("signs in and opens the organization", async () => {
    await signIn(page, "alice", password);
    await page.getByTestId("who").filter({ hasText: "Alice Admin" }).waitFor();
    await page.getByTestId("org-link").filter({ hasText: "Acme" }).waitFor();
    await shot(page, "organizations");
    await page.getByTestId("org-link").filter({ hasText: "Acme" }).click();
    await page.getByRole("cell", { name: "HQ", exact: true }).waitFor();
    await page.getByTestId("nav-keys").waitFor();
    await shot(page, "workspaces");
  });

  await t.test("a refused key shows the problem's field errors", async () => {
    await page.getByTestId("nav-keys").click();
    await page.getByRole("heading", { name: "API keys" }).waitFor();
    await page.getByTestId("new-key").click();
    await page.getByLabel("Name", { exact: true }).fill("Nobody's key");
    await page.getByLabel("Acts as user (optional)").fill("nobody");
    await page.getByRole("button", { name: "Create key" }).click();
    const alert = page.getByRole("alert");
    await alert.locator("code", { hasText: "/userName" }).waitFor();
    assert.match(await alert.innerText(), /400[\s\S]*\/userName: no such user/);
    await page.getByLabel("Acts as user (optional)").fill("");
  });

  await t.test("creates a key that may read assets in HQ only", async () => {
    await page.getByLabel("Name", { exact: true }).fill("Dashboard reader");
    await page.getByLabel("Description").fill("Reads the HQ devices");
    const row = page.locator('tr[data-scope="ASSET"]');
    await row.locator('input[name="ASSET:READ"]').check();
    await row.getByLabel("Only:").check();
    await row.getByLabel("HQ").check();
    await shot(page, "key-new");
    await page.getByRole("button", { name: "Create key" }).click();
    await page.getByTestId("secret").waitFor();
    await shot(page, "key-secret");
  });

  await t.test("copies the secret, which works for HQ and nowhere else", async () => {
    await page.getByRole("button", { name: /Copy secret/ }).click();
    await page.getByText("Copied").waitFor();
    secret = await page.evaluate(() => navigator.clipboard.readText());
    assert.equal(secret, await page.getByTestId("secret").inputValue(), "clipboard holds the secret shown");
    assert.match(secret, /^[0-9a-f]{64}$/);
    await must(200, "GET", `/v3/assets?workspaceId=${ids.hq}`, { apiKey: secret });
    await must(403, "GET", `/v3/assets?workspaceId=${ids.lab}`, { apiKey: secret });
    assert(await page.getByRole("button", { name: "Done" }).isDisabled(), "Done waits for 'I stored it'");
    await page.getByTestId("stored").check();
    await page.getByRole("button", { name: "Done" }).click();
    await page.getByTestId("key-state").waitFor();
    keyId = page.url().split("/").pop() ?? "";
    const key = await must(200, "GET", `/apikeys/${keyId}`);
    assert.deepEqual(key.permissions, [{ scope: "ASSET", verbs: ["READ"], workspaceIds: [ids.hq] }]);
    assert.equal(key.clientSecret, undefined, "the secret is not readable again");
  });

  await t.test("lists the key with its filters", async () => {
    await page.getByRole("link", { name: "Back to API keys" }).click();
    await page.getByTestId("key-row").filter({ hasText: "Dashboard reader" }).waitFor();
    await page.getByTestId("key-row").filter({ hasText: "Org reader" }).waitFor();
    await page.getByLabel("Name starts with").fill("Dash");
    await page.getByTestId("key-row").filter({ hasText: "Org reader" }).waitFor({ state: "detached" });
    await page.getByTestId("key-row").filter({ hasText: "Dashboard reader" }).waitFor();
    await page.getByLabel("State").selectOption("false");
    await page.getByText("No API key matches.").waitFor();
    await page.getByLabel("State").selectOption("");
    await shot(page, "keys");
    await page.getByLabel("Name starts with").fill("Nothing");
    await page.getByText("No API key matches.").waitFor();
    await page.getByLabel("Name starts with").fill("");
    await page.getByRole("link", { name: "Dashboard reader" }).click();
    await page.getByTestId("key-state").waitFor();
  });

  await t.test("sets and clears the expiry; shows usage per day", async () => {
    await page.getByRole("img", { name: "Requests per day" }).waitFor();
    await page.getByLabel("Expires at (empty: never)").fill("2099-01-02T03:04");
    await page.getByRole("button", { name: "Save expiry" }).click();
    await page.getByTestId("key-state").locator("xpath=..").getByText("2099").waitFor();
    const expiring = await must(200, "GET", `/apikeys/${keyId}`);
    assert.equal(Date.parse(expiring.expiresAt), Date.parse("2099-01-02T03:04:00Z"), "expiresAt (the browser is on UTC)");
    await page.getByLabel("Expires at (empty: never)").fill("");
    await page.getByRole("button", { name: "Save expiry" }).click();
    await page.getByTestId("key-state").locator("xpath=..").getByText("2099").waitFor({ state: "detached" });
    assert.equal((await must(200, "GET", `/apikeys/${keyId}`)).expiresAt, undefined);
  });

  await t.test("rotates without grace: the old secret stops, the new one works", async () => {
    await page.getByTestId("grace").selectOption("0");
    await page.getByTestId("rotate").click();
    const fresh = await page.getByTestId("secret").inputValue();
    assert.notEqual(fresh, secret);
    await must(401, "GET", `/v3/assets?workspaceId=${ids.hq}`, { apiKey: secret });
    await must(200, "GET", `/v3/assets?workspaceId=${ids.hq}`, { apiKey: fresh });
    secret = fresh;
    await page.getByTestId("stored").check();
    await page.getByRole("button", { name: "Done" }).click();
    await page.getByTestId("key-state").waitFor();
    await shot(page, "key");
  });

  await t.test("deactivating revokes the key: it gets 401", async () => {
    await page.getByTestId("toggle-active").click();
    await page.getByTestId("key-state").filter({ hasText: "inactive" }).waitFor();
    await must(401, "GET", `/v3/assets?workspaceId=${ids.hq}`, { apiKey: secret });
  });

  await t.test("deletes the key after confirmation", async () => {
    await page.getByTestId("delete").click();
    const dialog = page.getByRole("dialog");
    await dialog.waitFor();
    await shot(page, "key-delete");
    await dialog.getByRole("button", { name: "Delete" }).click();
    await page.getByRole("heading", { name: "API keys" }).waitFor();
    await must(404, "GET", `/apikeys/${keyId}`);
  });

  await t.test("the audit log lists the key's changes", async () => {
    await page.getByTestId("nav-audit").click();
    await page.getByLabel("Target id").fill(keyId);
    await page.getByRole("button", { name: "Filter" }).click();
    for (const action of ["create", "rotate", "update", "delete"]) {
      await page.getByTestId("audit-row").filter({ hasText: action }).first().waitFor();
    }
    await page.getByLabel("Target id").fill("");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.getByTestId("audit-row").filter({ hasText: "workspace" }).first().waitFor();
    await shot(page, "audit");
  });

  await t.test("a slow call shows the progress bar until it answers", async () => {
    /** @type {() => void} */
    let release = () => {};
    const held = new Promise((ok) => (release = () => ok(undefined)));
    await page.route("**/v3/audit-events?*", async (route) => {
      await held;
      await route.continue();
    });
    await page.getByLabel("Actor").fill("alice");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.getByRole("progressbar").waitFor();
    release();
    await page.getByRole("progressbar").waitFor({ state: "hidden" });
    await page.unroute("**/v3/audit-events?*");
  });

  await t.test("an access token near its end is refreshed; nothing is in localStorage", async () => {
    const before = await page.evaluate(() => JSON.parse(sessionStorage.getItem("keyplane.console.session") ?? "{}"));
    assert.equal(before.kind, "password");
    await page.evaluate(() => {
      const s = JSON.parse(sessionStorage.getItem("keyplane.console.session") ?? "{}");
      s.expiresAt = new Date().toISOString();
      sessionStorage.setItem("keyplane.console.session", JSON.stringify(s));
    });
    await page.reload();
    await page.getByTestId("audit-row").first().waitFor();
    const after = await page.evaluate(() => JSON.parse(sessionStorage.getItem("keyplane.console.session") ?? "{}"));
    assert.notEqual(after.refreshToken, before.refreshToken, "the refresh token was used");
    assert.notEqual(after.accessToken, before.accessToken);
    assert(Date.parse(after.expiresAt) > Date.now(), "the new access token is valid");
    assert.equal(await page.evaluate(() => localStorage.length), 0, "localStorage is empty");
  });

  await t.test("devices, a device's samples and chart, connectors", async () => {
    await page.goto(`${base}/console/orgs/${ids.org}`);
    await page.getByRole("row", { name: /HQ/ }).getByRole("link", { name: "Devices" }).click();
    await page.getByTestId("device-row").filter({ hasText: "Lobby" }).waitFor();
    await page.getByTestId("device-row").filter({ hasText: "Roof" }).waitFor();
    await page.getByLabel("Tag").selectOption({ label: "Ground floor" });
    await page.getByTestId("device-row").filter({ hasText: "Roof" }).waitFor({ state: "detached" });
    await page.getByLabel("Tag").selectOption("");
    await page.getByTestId("device-row").filter({ hasText: "Roof" }).waitFor();
    await shot(page, "devices");
    await page.getByLabel("Search").fill("Lob");
    await page.getByTestId("device-row").filter({ hasText: "Roof" }).waitFor({ state: "detached" });
    await page.getByRole("link", { name: "Lobby" }).click();
    await page.getByTestId("latest-sample").waitFor();
    assert.match(await page.getByTestId("latest-sample").innerText(), /temperature/);
    await page.locator("svg.chart path.line").waitFor();
    assert.match(await page.getByTestId("kpi").innerText(), /AVG of temperature over the range: \d/);
    await shot(page, "device");

    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, "phone-device");
    await page.goto(`${base}/console/orgs/${ids.org}/keys`);
    await page.getByTestId("key-row").filter({ hasText: "Org reader" }).waitFor();
    await shot(page, "phone-keys");
    await page.setViewportSize({ width: 1280, height: 800 });

    await deliveredRecorded();
    await page.goto(`${base}/console/orgs/${ids.org}/workspaces/${ids.hq}/connectors`);
    await page.getByRole("button", { name: /Receiver/ }).click();
    await page.getByLabel("Status").selectOption("DELIVERED");
    const attempt = page.locator("ol.attempts li").first();
    await attempt.waitFor();
    assert.match(await attempt.innerText(), /204 in \d+ ms/, "the attempt shows the receiver's status");
    await page.getByLabel("Status").selectOption("");
    await shot(page, "connectors");
  });

  await t.test("keyboard: the sign-out button is reachable with Tab", async () => {
    await page.goto(`${base}/console`);
    await page.getByTestId("org-link").first().waitFor();
    let found = false;
    for (let i = 0; i < 10 && !found; i++) {
      await page.keyboard.press("Tab");
      found = await page.evaluate(() => document.activeElement?.textContent === "Sign out");
    }
    assert(found, "Sign out is in the tab order");
    await page.keyboard.press("Enter");
    await page.getByRole("form", { name: "Sign in with a password" }).waitFor();
  });

  assert.deepEqual(violations, [], "no CSP violation or page error");
});

test("a Member does not see API keys", async (t) => {
  const { page, violations, close } = await openPage();
  t.after(close);
  await signIn(page, "bob", password);
  await page.getByTestId("org-link").filter({ hasText: "Acme" }).click();
  await page.locator('nav.side[data-loaded="true"]').waitFor();
  assert.equal(await page.getByTestId("nav-keys").count(), 0, "no API keys entry");
  assert.equal(await page.getByTestId("nav-audit").count(), 0, "no audit log entry");
  await page.getByRole("cell", { name: "HQ", exact: true }).waitFor();
  assert.equal(await page.getByRole("cell", { name: "Lab", exact: true }).count(), 0, "only the workspace the Member views");
  await shot(page, "member");
  // The page itself answers with the API's problem.
  await page.goto(`${base}/console/orgs/${ids.org}/keys`);
  await page.getByRole("alert").waitFor();
  assert.match(await page.getByRole("alert").innerText(), /403/);
  assert.deepEqual(violations, []);
});

test("a pasted API key signs in", async (t) => {
  const { page, close } = await openPage();
  t.after(close);
  await page.goto(`${base}/console`);
  const form = page.getByRole("form", { name: "Sign in with a key" });
  await form.getByLabel("API key secret or bearer token").fill(readerSecret);
  await form.getByRole("button", { name: "Use key" }).click();
  await page.getByTestId("who").filter({ hasText: "API key" }).waitFor();
  await page.getByTestId("org-link").filter({ hasText: "Acme" }).waitFor();
  // A reload keeps the session (sessionStorage); nothing is in localStorage.
  await page.reload();
  await page.getByTestId("org-link").filter({ hasText: "Acme" }).waitFor();
  assert.equal(await page.evaluate(() => localStorage.length), 0);
});
