/**
 * What the caller may do in an organization, from GET /v3/workspace-access:
 * the console shows an entry only when the answer reaches somewhere.
 */
import type { Schemas } from "../../clients/ts/src/client.ts";
import { api } from "./api.ts";

/** A scope of the API. */
export type Scope = Schemas["Scope"];
/** A verb of the API. */
export type Verb = Schemas["Verb"];
/** Where a caller may use a scope and verb. */
export type Reach = Schemas["WorkspaceAccess"];

/** Every scope, in the order the permission picker lists them. */
export const scopes: readonly Scope[] = [
  "ORGANIZATION", "WORKSPACE", "ASSET", "DATA", "API_KEY", "RULE", "OUTPUT_CONNECTOR",
  "DEVICE_TYPE", "DATA_FLOW", "USER", "ROLE", "METRICS", "KEY", "AUDIT",
];

/** The verbs a scope takes: KEY only VERIFY, AUDIT only READ, the others the four CRUD verbs. */
export function verbsOf(scope: Scope): Verb[] {
  if (scope === "KEY") return ["VERIFY"];
  if (scope === "AUDIT") return ["READ"];
  return ["READ", "CREATE", "UPDATE", "DELETE"];
}

/** Scopes whose grants can be limited to workspaces (the features that live in workspaces). */
export const workspaceScopes: ReadonlySet<Scope> = new Set<Scope>(["WORKSPACE", "ASSET", "DATA", "RULE", "OUTPUT_CONNECTOR", "DEVICE_TYPE", "DATA_FLOW"]);

/** True when the reach covers at least one workspace (or the whole organization). */
export function reaches(r: Reach | undefined): boolean {
  return !!r && (r.all || r.ids.length > 0);
}

const cache = new Map<string, Promise<Reach>>();

/** The caller's reach for scope and verb in org; cached until {@link forgetReach}. */
export function reach(org: string, scope: Scope, verb: Verb): Promise<Reach> {
  const k = `${org}/${scope}/${verb}`;
  let p = cache.get(k);
  if (!p) {
    p = api.GET("/v3/workspace-access", { params: { query: { organizationId: org, scope, verb } } }).then(({ data }) => data ?? { all: false, ids: [] });
    cache.set(k, p);
  }
  return p;
}

/** Drops the cached reaches (on sign-in and sign-out). */
export function forgetReach(): void {
  cache.clear();
}
