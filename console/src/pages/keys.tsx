/** An organization's API keys: an NData list with filters and paging. */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import type { ApiKey, ListApiKeysQuery } from "../../../clients/ts/src/client.ts";
import { api } from "../api.ts";
import { Link } from "../router.tsx";
import { Choice, PageHead, Pager, ProblemBox, SearchField, Table, useLoad, when } from "../ui.tsx";

const take = 20;

/** The choices of the State filter (isActive). */
const activeStates: [string, string][] = [["", "All"], ["true", "Active"], ["false", "Inactive"]];

/** An NData string literal: quoted, with `"` and `\` escaped. */
export function literal(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => "\\" + c)}"`;
}

/** The NData query of the list's filters. */
export function keysQuery(org: string, name: string, active: string, skip: number): ListApiKeysQuery {
  const q: ListApiKeysQuery = { organizationId: [org], $sort: ["-createdAt"], $take: take, $skip: skip };
  // A prefix: every name from it (included) up to it followed by the last code point.
  if (name) q.name = [`gte:${literal(name)};lt:${literal(name + "\u{10FFFF}")}`];
  if (active) q.isActive = [active];
  return q;
}

/** The API keys page. */
export function KeysPage({ org }: { org: string }): JSX.Element {
  const [name, setName] = useState("");
  const [active, setActive] = useState("");
  const [skip, setSkip] = useState(0);
  const keys = useLoad(() => api.GET("/apikeys", { params: { query: keysQuery(org, name, active, skip) } }), [org, name, active, skip]);
  const items = keys.data?.items ?? [];
  return (
    <section>
      <PageHead title="API keys">
        <Link to={`/orgs/${org}/keys/new`} class="button primary" data-testid="new-key">
          New API key
        </Link>
      </PageHead>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <SearchField label="Name starts with" value={name} onSearch={(v) => (setName(v), setSkip(0))} />
        <Choice label="State" value={active} options={activeStates} onChoose={(v) => (setActive(v), setSkip(0))} />
      </form>
      <ProblemBox problem={keys.problem} />
      <KeyTable org={org} keys={items} loading={keys.loading} />
      {keys.data && items.length === 0 ? <p class="muted">No API key matches.</p> : null}
      <Pager skip={skip} take={take} count={keys.data?.count ?? 0} total={keys.data?.totalCount ?? 0} onSkip={setSkip} />
    </section>
  );
}

/** A page of keys: name (and the user it acts as), state, permissions, expiry, last use, creation. */
function KeyTable({ org, keys, loading }: { org: string; keys: ApiKey[]; loading: boolean }): JSX.Element {
  return (
    <Table wrap columns={["Name", "State", "Permissions", "Expires", "Last used", "Created"]} busy={loading}>
      {keys.map((k) => (
        <tr key={k.id} data-testid="key-row">
          <td>
            <Link to={`/orgs/${org}/keys/${k.id}`}>{k.name}</Link>
            {k.userName ? <div class="muted">as {k.userName}</div> : null}
          </td>
          <td>
            <span class={k.isActive ? "badge ok" : "badge off"}>{k.isActive ? "active" : "inactive"}</span>
          </td>
          <td>{k.permissions.length === 0 ? <span class="muted">{k.userName ? "the user's rights" : "none"}</span> : k.permissions.map((p) => `${p.scope}:${p.verbs.join("/")}`).join(", ")}</td>
          <td>{when(k.expiresAt)}</td>
          <td>{when(k.lastUsedAt)}</td>
          <td>{when(k.createdAt)}</td>
        </tr>
      ))}
    </Table>
  );
}
