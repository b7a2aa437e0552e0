/** Organizations, and an organization's workspaces with the entries into each. */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import { api } from "../api.ts";
import { Link } from "../router.tsx";
import { PageHead, ProblemBox, SearchField, Table, useLoad } from "../ui.tsx";

const pageSize = 20;

/** The organizations the caller may see, searchable. */
export function OrganizationsPage(): JSX.Element {
  const [search, setSearch] = useState("");
  const [page, setPage] = useState(0);
  const orgs = useLoad(
    () => api.GET("/v3/organizations", { params: { query: { page, size: pageSize, sort: ["name,asc"], ...(search ? { search } : {}) } } }),
    [search, page],
  );
  return (
    <section>
      <PageHead title="Organizations" />
      <SearchField class="search" label="Search" value={search} onSearch={(v) => (setSearch(v), setPage(0))} />
      <ProblemBox problem={orgs.problem} />
      <ul class="cards" aria-busy={orgs.loading}>
        {orgs.data?.content.map((o) => (
          <li key={o.id}>
            <Link to={`/orgs/${o.id}`} data-testid="org-link">
              <strong>{o.name}</strong>
            </Link>
            <span class="muted">{o.description ?? o.id}</span>
          </li>
        ))}
      </ul>
      {orgs.data && orgs.data.content.length === 0 ? <p class="muted">No organization.</p> : null}
      <SpringPager page={page} last={orgs.data?.last ?? true} onPage={setPage} />
    </section>
  );
}

/** Previous/next over a Spring page. */
export function SpringPager({ page, last, onPage }: { page: number; last: boolean; onPage: (p: number) => void }): JSX.Element {
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={page === 0} onClick={() => onPage(page - 1)}>
        ← Previous
      </button>
      <span>Page {page + 1}</span>
      <button type="button" disabled={last} onClick={() => onPage(page + 1)}>
        Next →
      </button>
    </nav>
  );
}

/** An organization: its workspaces, each with links to its devices and output connectors. */
export function OrganizationPage({ org }: { org: string }): JSX.Element {
  const [page, setPage] = useState(0);
  const o = useLoad(() => api.GET("/v3/organizations/{organizationId}", { params: { path: { organizationId: org } } }), [org]);
  const ws = useLoad(
    () => api.GET("/v3/workspaces", { params: { query: { organizationId: org, page, size: pageSize, sort: ["name,asc"] } } }),
    [org, page],
  );
  return (
    <section>
      <PageHead title={o.data?.name ?? "Organization"} />
      <ProblemBox problem={o.problem} />
      <h2>Workspaces</h2>
      {ws.problem?.status === 403 ? <p class="muted">No workspace of this organization is open to you.</p> : <ProblemBox problem={ws.problem} />}
      <Table columns={["Workspace", "Id", "Open"]}>
        {ws.data?.content.map((w) => (
          <tr key={w.id}>
            <td>{w.name}</td>
            <td>
              <code>{w.id}</code>
            </td>
            <td class="links">
              <Link to={`/orgs/${org}/workspaces/${w.id}/devices`}>Devices</Link>
              <Link to={`/orgs/${org}/workspaces/${w.id}/connectors`}>Output connectors</Link>
            </td>
          </tr>
        ))}
      </Table>
      {ws.data && ws.data.content.length === 0 ? <p class="muted">No workspace you may see.</p> : null}
      <SpringPager page={page} last={ws.data?.last ?? true} onPage={setPage} />
    </section>
  );
}
