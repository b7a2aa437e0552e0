/** A workspace's output connectors, each with its deliveries and their attempts. */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import type { Schemas } from "../../../clients/ts/src/client.ts";
import { api } from "../api.ts";
import { Link } from "../router.tsx";
import { Choice, PageHead, ProblemBox, Table, useLoad, when } from "../ui.tsx";
import { SpringPager } from "./organizations.tsx";

type Status = Schemas["Delivery"]["status"];

/** The choices of the Status filter of deliveries. */
const statuses: [string, string][] = [["", "Any"], ["PENDING", "PENDING"], ["DELIVERED", "DELIVERED"], ["FAILED", "FAILED"]];

/** The connectors page. */
export function ConnectorsPage({ org, ws }: { org: string; ws: string }): JSX.Element {
  const [page, setPage] = useState(0);
  const [open, setOpen] = useState<string | null>(null);
  const list = useLoad(() => api.GET("/v3/output-connectors", { params: { query: { workspaceId: ws, page, size: 25, sort: ["name,asc"] } } }), [ws, page]);
  return (
    <section>
      <PageHead title="Output connectors">
        <Link to={`/orgs/${org}/workspaces/${ws}/devices`}>Devices</Link>
      </PageHead>
      <ProblemBox problem={list.problem} />
      <ul class="connectors">
        {list.data?.content.map((c) => (
          <li key={c.id}>
            <button type="button" class="row" aria-expanded={open === c.id} onClick={() => setOpen(open === c.id ? null : c.id)}>
              <strong>{c.name}</strong> <span class="badge">{c.type}</span> <span class="muted">{c.webhookProperties?.uri ?? c.mqttProperties?.brokerUrl ?? ""}</span>
            </button>
            {open === c.id ? <Deliveries id={c.id} /> : null}
          </li>
        ))}
      </ul>
      {list.data && list.data.content.length === 0 ? <p class="muted">No output connector in this workspace.</p> : null}
      <SpringPager page={page} last={list.data?.last ?? true} onPage={setPage} />
    </section>
  );
}

/** One connector's deliveries, newest first, filterable by status. */
function Deliveries({ id }: { id: string }): JSX.Element {
  const [status, setStatus] = useState<Status | "">("");
  const [page, setPage] = useState(0);
  const list = useLoad(
    () => api.GET("/v3/output-connectors/{outputConnectorId}/deliveries", { params: { path: { outputConnectorId: id }, query: { page, size: 20, ...(status ? { status } : {}) } } }),
    [id, status, page],
  );
  return (
    <div class="deliveries">
      <Choice label="Status" value={status} options={statuses} onChoose={(v) => (setStatus(v as Status | ""), setPage(0))} />
      <ProblemBox problem={list.problem} />
      <Table wrap columns={["Created", "Status", "Attempts", "Next attempt"]}>
        {list.data?.content.map((d) => (
          <tr key={d.id}>
            <td>{when(d.created)}</td>
            <td>
              <span class={d.status === "DELIVERED" ? "badge ok" : d.status === "FAILED" ? "badge bad" : "badge"}>{d.status.toLowerCase()}</span>
            </td>
            <td>
              <ol class="attempts">
                {d.attempts.map((a, i) => (
                  <li key={i}>
                    {when(a.at)}: {a.statusCode ?? "no status"} in {a.durationMs} ms{a.error ? ` — ${a.error}` : ""}
                  </li>
                ))}
              </ol>
            </td>
            <td>{when(d.nextAttemptAt)}</td>
          </tr>
        ))}
      </Table>
      {list.data && list.data.content.length === 0 ? <p class="muted">No delivery.</p> : null}
      <SpringPager page={page} last={list.data?.last ?? true} onPage={setPage} />
    </div>
  );
}
