/** The organization's audit log (GET /v3/audit-events), filtered by actor, action, target, outcome and time. */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import type { operations, Schemas } from "../../../clients/ts/src/client.ts";
import { api } from "../api.ts";
import { PageHead, ProblemBox, Table, useLoad, when } from "../ui.tsx";
import { SpringPager } from "./organizations.tsx";

type Query = NonNullable<operations["listAuditEvents"]["parameters"]["query"]>;
type Outcome = Schemas["AuditOutcome"];

/** Filters of the form; empty ones are left out of the query. */
interface Filters {
  actor: string;
  action: string;
  targetType: string;
  targetId: string;
  outcome: Outcome | "";
  from: string;
  to: string;
}

const none: Filters = { actor: "", action: "", targetType: "", targetId: "", outcome: "", from: "", to: "" };

/** The audit query of the filters. */
export function auditQuery(org: string, f: Filters, page: number): Query {
  const q: Query = { organizationId: org, page, size: 25 };
  if (f.actor) q.actor = f.actor;
  if (f.action) q.action = f.action;
  if (f.targetType) q.targetType = f.targetType;
  if (f.targetId) q.targetId = f.targetId;
  if (f.outcome) q.outcome = f.outcome;
  if (f.from) q.from = new Date(f.from).toISOString();
  if (f.to) q.to = new Date(f.to).toISOString();
  return q;
}

/** The audit page. */
export function AuditPage({ org }: { org: string }): JSX.Element {
  const [f, setF] = useState<Filters>(none);
  const [page, setPage] = useState(0);
  const events = useLoad(() => api.GET("/v3/audit-events", { params: { query: auditQuery(org, f, page) } }), [org, f, page]);
  return (
    <section>
      <PageHead title="Audit log" />
      <AuditFilters value={f} onFilter={(x) => (setF(x), setPage(0))} />
      <ProblemBox problem={events.problem} />
      <AuditTable events={events.data?.content} loading={events.loading} />
      {events.data && events.data.content.length === 0 ? <p class="muted">No event matches.</p> : null}
      <SpringPager page={page} last={events.data?.last ?? true} onPage={setPage} />
    </section>
  );
}

/** A page of audit events, newest first. */
function AuditTable({ events, loading }: { events: Schemas["AuditEvent"][] | undefined; loading: boolean }): JSX.Element {
  return (
    <Table wrap columns={["When", "Actor", "Action", "Target", "Outcome", "Client", "Request"]} busy={loading}>
      {events?.map((e) => (
        <tr key={e.id} data-testid="audit-row">
          <td class="nowrap">{when(e.timestamp)}</td>
          <td>{e.actor}</td>
          <td>{e.action}</td>
          <td>
            {e.targetType} <code>{e.targetId}</code>
            {e.detail ? <div class="muted">{e.detail}</div> : null}
          </td>
          <td>
            <span class={e.outcome === "success" ? "badge ok" : "badge bad"}>{e.outcome}</span>
          </td>
          <td>{e.clientAddress ?? "—"}</td>
          <td>
            <code>{e.requestId}</code>
          </td>
        </tr>
      ))}
    </Table>
  );
}

/** The filter form; a submit applies the filters. */
function AuditFilters({ value: f, onFilter }: { value: Filters; onFilter: (f: Filters) => void }): JSX.Element {
  const field = (name: keyof Filters, label: string, time = false) => (
    <label>
      {label}
      {time ? <input type="datetime-local" name={name} defaultValue={f[name]} /> : <input type="search" name={name} defaultValue={f[name]} />}
    </label>
  );
  return (
    <form
      class="filters"
      role="search"
      onSubmit={(e) => {
        e.preventDefault();
        const d = new FormData(e.currentTarget);
        const g = (k: keyof Filters) => String(d.get(k) ?? "").trim();
        onFilter({ actor: g("actor"), action: g("action"), targetType: g("targetType"), targetId: g("targetId"), outcome: g("outcome") as Outcome | "", from: g("from"), to: g("to") });
      }}
    >
      {field("actor", "Actor")}
      {field("action", "Action")}
      {field("targetType", "Target type")}
      {field("targetId", "Target id")}
      <label>
        Outcome
        <select name="outcome" defaultValue={f.outcome}>
          <option value="">Any</option>
          <option value="success">success</option>
          <option value="denied">denied</option>
        </select>
      </label>
      {field("from", "From", true)}
      {field("to", "Before", true)}
      <button type="submit">Filter</button>
    </form>
  );
}
