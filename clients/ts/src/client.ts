/**
 * A typed client for the keyplane API.
 *
 * The request and response types come from `schema.d.ts`, generated from
 * `openapi/openapi.yaml` by openapi-typescript (`npm run generate`); the runtime
 * is openapi-fetch, a thin wrapper over `fetch`. Every call returns
 * `{ data, error, response }`: `data` is the parsed body of a 2xx response,
 * `error` the parsed body of any other status (a {@link Problem}).
 *
 * @example
 * ```ts
 * const kp = createKeyplaneClient({ baseUrl: "http://127.0.0.1:8080", token: process.env.KEYPLANE_TOKEN });
 * const { data, error } = await kp.GET("/apikeys", {
 *   params: { query: { isActive: ["true"], $sort: ["-createdAt"], $take: 10 } },
 * });
 * if (error) throw new Error(`${error.status} ${error.title}`);
 * for (const key of data.items ?? []) console.log(key.id, key.name);
 * ```
 *
 * @module
 */
import createClient, { type Client, type ClientOptions, type Middleware } from "openapi-fetch";
import type { components, operations, paths } from "./schema.js";

export type { components, operations, paths };
export type { Middleware };

/** The client {@link createKeyplaneClient} returns: `GET`, `POST`, `PUT`, `DELETE`, … on the API's paths. */
export type KeyplaneClient = Client<paths>;

/** Every schema of the API, by name (`Schemas["ApiKey"]`). */
export type Schemas = components["schemas"];

/** An API key as the server returns it. `clientSecret` is set only in the response that creates (or rotates) the key. */
export type ApiKey = Schemas["ApiKey"];
/** An API key as a client writes it (POST and PUT `/apikeys`). An update names the version it changes in `_v`. */
export type ApiKeyInput = Schemas["ApiKeyInput"];
/** One page of an NData list of API keys. `items` is absent with `$count=true`. */
export type ApiKeyQueryResult = Schemas["ApiKeyQueryResult"];
/** A grant of an API key: a scope, its verbs, optionally restricted to workspaces. */
export type Permission = Schemas["Permission"];
/** The feature a {@link Permission} covers. */
export type Scope = Schemas["Scope"];
/** What a {@link Permission} allows on its scope. */
export type Verb = Schemas["Verb"];
/** A right such as `apiKeyCreate`, or `admin`. */
export type Right = Schemas["Right"];
/** Body of `POST /apikeys/{id}/rotate`. */
export type RotateRequest = Schemas["RotateRequest"];

/**
 * The RFC 7807 `application/problem+json` body of every error response. `errorCode` is the
 * Portos code (1 unauthenticated, 2 unauthorized, 3 validation failed, 5 locked, 6 version
 * mismatch); `errors` names the members that failed validation.
 */
export type Problem = Schemas["Problem"];
/** One failed member of a {@link Problem} (`memberName` is a parameter, header or JSON pointer). */
export type ProblemError = Schemas["ProblemError"];

/**
 * One NData filter parameter: each string is an expression (`value`, `OP:arg`, `a;b`), and
 * the strings AND together. Pass `["true"]`, not `"true"`.
 */
export type NDataFilter = Schemas["NDataFilter"];
/** The query of `GET /apikeys`: paging (`$skip`, `$take`), `$sort`, `$count` and one NData filter per field. */
export type ListApiKeysQuery = NonNullable<operations["listApiKeys"]["parameters"]["query"]>;

/** Body of `POST /api/auth` (password login). */
export type LoginRequest = Schemas["LoginRequest"];
/** Response of a login or a refresh: `tokenId` is the bearer access token. */
export type LoginResult = Schemas["LoginResult"];
/** A user as the server returns it. */
export type User = Schemas["User"];
/** A user as a client writes it. */
export type UserInput = Schemas["UserInput"];
/** A role: a named set of rights. */
export type Role = Schemas["Role"];
/** An organization (akenza format). */
export type Organization = Schemas["Organization"];
/** An organization as a client writes it. */
export type OrganizationInput = Schemas["OrganizationInput"];
/** A workspace (akenza format). */
export type Workspace = Schemas["Workspace"];
/** A workspace as a client writes it. */
export type WorkspaceInput = Schemas["WorkspaceInput"];
/** Where the caller may act (`GET /v3/workspace-access`). */
export type WorkspaceAccess = Schemas["WorkspaceAccess"];

/** Credentials for {@link createKeyplaneClient}: at most one of them. */
export interface KeyplaneCredentials {
  /**
   * Sent as `Authorization: Bearer <token>`: the root token of `keyplane serve`
   * (`KEYPLANE_ROOT_TOKEN`) or a `tokenId` from `POST /api/auth`.
   */
  token?: string | undefined;
  /** Sent as `x-api-key: <apiKey>`: an API key's `clientSecret`. */
  apiKey?: string | undefined;
}

/** Options of {@link createKeyplaneClient}: openapi-fetch's client options with a required `baseUrl`, plus credentials. */
export interface KeyplaneClientOptions extends Omit<ClientOptions, "baseUrl">, KeyplaneCredentials {
  /** The server's root URL, e.g. `http://127.0.0.1:8080` (no trailing path). */
  baseUrl: string;
}

/**
 * Returns an openapi-fetch middleware that adds the credential to every request
 * (unless the request already carries that header), or `undefined` when there is none.
 *
 * @throws {TypeError} when both `token` and `apiKey` are given, or one is empty.
 */
export function authMiddleware(credentials: KeyplaneCredentials): Middleware | undefined {
  const { token, apiKey } = credentials;
  if (token !== undefined && apiKey !== undefined) {
    throw new TypeError("keyplane client: pass either token or apiKey, not both");
  }
  let header: [name: string, value: string];
  if (token !== undefined) {
    if (token === "") throw new TypeError("keyplane client: token is empty");
    header = ["Authorization", `Bearer ${token}`];
  } else if (apiKey !== undefined) {
    if (apiKey === "") throw new TypeError("keyplane client: apiKey is empty");
    header = ["x-api-key", apiKey];
  } else {
    return undefined;
  }
  const [name, value] = header;
  return {
    onRequest({ request }) {
      if (!request.headers.has(name)) request.headers.set(name, value);
      return request;
    },
  };
}

/**
 * Creates a typed keyplane client. With `token`, requests carry
 * `Authorization: Bearer <token>`; with `apiKey`, `x-api-key: <apiKey>`; with neither,
 * no credential (enough for `/healthz`, `/readyz` and `POST /api/auth`).
 * Other options (`fetch`, `headers`, `querySerializer`, …) go to openapi-fetch's `createClient`.
 *
 * @throws {TypeError} when both `token` and `apiKey` are given, or one is empty.
 */
export function createKeyplaneClient(options: KeyplaneClientOptions): KeyplaneClient {
  const { token, apiKey, ...clientOptions } = options;
  const auth = authMiddleware({ token, apiKey });
  const client = createClient<paths>(clientOptions);
  if (auth) client.use(auth);
  return client;
}
