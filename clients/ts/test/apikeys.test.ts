// Live test of the generated client against a running keyplane server.
// KEYPLANE_URL is the server's root URL and KEYPLANE_TOKEN its root bearer token;
// run-live.sh starts a server on a fresh PostgreSQL schema and sets both.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";

import { createKeyplaneClient, type ApiKey, type KeyplaneClient, type Middleware } from "../src/client.js";

function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: these tests call a live keyplane server. ` +
        "Run `bash clients/ts/run-live.sh` from the repository root, " +
        "or set KEYPLANE_URL (e.g. http://127.0.0.1:8080) and KEYPLANE_TOKEN (its root token).",
    );
  }
  return value;
}

const baseUrl = requireEnv("KEYPLANE_URL");
const token = requireEnv("KEYPLANE_TOKEN");

const HEX64 = /^[0-9a-f]{64}$/;

describe("/apikeys through the generated client", () => {
  const kp: KeyplaneClient = createKeyplaneClient({ baseUrl, token });
  // Unique per run, so the NData filter below matches only this test's key.
  const name = `ts-client-${randomUUID()}`;
  let created: ApiKey | undefined;
  let deleted = false;

  /** The key created by the first test; the later ones need it. */
  function key(): ApiKey {
    assert.ok(created, "the create test did not produce a key");
    return created;
  }

  before(async () => {
    const { data, error, response } = await kp.GET("/healthz");
    assert.equal(response.status, 200, `server at ${baseUrl} is not healthy: ${JSON.stringify(error)}`);
    assert.equal(data?.status, "ok");
  });

  after(async () => {
    // Best effort: leave nothing behind if a test failed before the delete test.
    if (created && !deleted) {
      await kp.DELETE("/apikeys/{id}", { params: { path: { id: created.id } } });
    }
  });

  it("creates a key: 201, with a 64-hex clientSecret", async () => {
    const { data, error, response } = await kp.POST("/apikeys", {
      body: {
        name,
        description: "created by clients/ts/test/apikeys.test.ts",
        isActive: true,
        deviceName: "ts-client",
        permissions: [{ scope: "API_KEY", verbs: ["READ"] }],
      },
    });
    assert.equal(error, undefined, `create failed: ${JSON.stringify(error)}`);
    assert.equal(response.status, 201);
    assert.ok(data);
    created = data; // from here on, after() deletes it should a later assertion fail
    assert.match(data.id, /^[0-9a-f]{24}$/);
    assert.match(data.clientId, /^[0-9a-f]{40}$/);
    assert.match(data.clientSecret ?? "", HEX64, "clientSecret must be 64 hex characters");
    assert.equal(data.name, name);
    assert.equal(data.isActive, true);
    assert.equal(data._v, 1);
    assert.deepEqual(data.permissions, [{ scope: "API_KEY", verbs: ["READ"] }]);
    assert.equal(response.headers.get("ETag"), '"1"');
  });

  it("reads it back without clientSecret", async () => {
    const { data, error, response } = await kp.GET("/apikeys/{id}", { params: { path: { id: key().id } } });
    assert.equal(error, undefined, JSON.stringify(error));
    assert.equal(response.status, 200);
    assert.equal(data?.id, key().id);
    assert.equal(data?.clientSecret, undefined, "clientSecret is returned only on create");
  });

  it("authenticates with the key's secret as x-api-key", async () => {
    const asKey = createKeyplaneClient({ baseUrl, apiKey: key().clientSecret });
    const { data, error, response } = await asKey.GET("/apikeys/{id}", { params: { path: { id: key().id } } });
    assert.equal(error, undefined, JSON.stringify(error));
    assert.equal(response.status, 200);
    assert.equal(data?.name, name);
  });

  it("lists it with NData filters (name equality, isActive=true, $take, $sort)", async () => {
    const sent: string[] = [];
    const recordUrl: Middleware = {
      onRequest({ request }) {
        sent.push(request.url);
      },
    };
    const { data, error, response } = await kp.GET("/apikeys", {
      params: { query: { name: [name], isActive: ["true"], $take: 10, $sort: ["-createdAt"] } },
      middleware: [recordUrl],
    });
    assert.equal(error, undefined, JSON.stringify(error));
    assert.equal(response.status, 200);

    // NData filters are string arrays in the spec (form, explode): each element must
    // reach the server as its own `field=value`, and `$` names unencoded.
    assert.equal(sent.length, 1);
    const url = new URL(sent[0] ?? "");
    assert.equal(url.pathname, "/apikeys");
    assert.deepEqual(url.searchParams.getAll("name"), [name]);
    assert.deepEqual(url.searchParams.getAll("isActive"), ["true"]);
    assert.equal(url.searchParams.get("$take"), "10");
    assert.equal(url.searchParams.get("$sort"), "-createdAt");
    assert.match(url.search, /(^\?|&)\$take=10(&|$)/);

    assert.ok(data);
    assert.equal(data.totalCount, 1);
    assert.equal(data.count, 1);
    assert.equal(data.items?.length, 1);
    const [item] = data.items ?? [];
    assert.equal(item?.id, key().id);
    assert.equal(item?.clientSecret, undefined, "lists never carry clientSecret");
  });

  it("lists nothing for isActive=false on the same name", async () => {
    const { data, error } = await kp.GET("/apikeys", {
      params: { query: { name: [name], isActive: ["false"] } },
    });
    assert.equal(error, undefined, JSON.stringify(error));
    assert.equal(data?.totalCount, 0);
    assert.deepEqual(data?.items ?? [], []);
  });

  it("rejects an unknown NData operator with a 400 problem naming the parameter", async () => {
    const { data, error, response } = await kp.GET("/apikeys", {
      params: { query: { name: ["bogus:x"] } },
    });
    assert.equal(data, undefined);
    assert.equal(response.status, 400);
    assert.match(response.headers.get("Content-Type") ?? "", /^application\/problem\+json/);
    assert.equal(error?.status, 400);
    assert.ok(error?.errors?.some((e) => e.memberName === "name"), JSON.stringify(error));
  });

  it("updates with the current _v: 200, _v 2", async () => {
    const { data, error, response } = await kp.PUT("/apikeys/{id}", {
      params: { path: { id: key().id } },
      body: { name, description: "updated", isActive: true, permissions: key().permissions, _v: 1 },
    });
    assert.equal(error, undefined, JSON.stringify(error));
    assert.equal(response.status, 200);
    assert.equal(data?._v, 2);
    assert.equal(data?.description, "updated");
    assert.equal(data?.clientSecret, undefined, "an update never carries clientSecret");
  });

  it("refuses a stale _v: 409 problem+json with errorCode 6, nothing changed", async () => {
    const { data, error, response } = await kp.PUT("/apikeys/{id}", {
      params: { path: { id: key().id } },
      body: { name, description: "stale write", isActive: true, _v: 1 },
    });
    assert.equal(data, undefined);
    assert.equal(response.status, 409);
    assert.match(response.headers.get("Content-Type") ?? "", /^application\/problem\+json/);
    assert.ok(error, "openapi-fetch returns the problem as error");
    assert.equal(error.status, 409);
    assert.equal(error.errorCode, 6);
    assert.ok(error.title, "a problem has a title");

    const now = await kp.GET("/apikeys/{id}", { params: { path: { id: key().id } } });
    assert.equal(now.data?._v, 2);
    assert.equal(now.data?.description, "updated");
  });

  it("deletes it: 200 with the deleted key, then 404 with a title", async () => {
    const del = await kp.DELETE("/apikeys/{id}", { params: { path: { id: key().id } } });
    assert.equal(del.error, undefined, JSON.stringify(del.error));
    assert.equal(del.response.status, 200);
    assert.equal(del.data?.id, key().id);
    assert.equal(del.data?.clientSecret, undefined);
    deleted = true;

    const { data, error, response } = await kp.GET("/apikeys/{id}", { params: { path: { id: key().id } } });
    assert.equal(data, undefined);
    assert.equal(response.status, 404);
    assert.ok(error);
    assert.equal(error.status, 404);
    assert.equal(typeof error.title, "string");
    assert.ok(error.title.length > 0, "a 404 problem has a title");
  });

  it("answers 401 with a problem for a missing credential", async () => {
    const anonymous = createKeyplaneClient({ baseUrl });
    const { data, error, response } = await anonymous.GET("/apikeys");
    assert.equal(data, undefined);
    assert.equal(response.status, 401);
    assert.equal(error?.errorCode, 1);
    assert.ok(response.headers.get("WWW-Authenticate"));
  });
});
