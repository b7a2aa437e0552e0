/** A workspace's devices: online state, search, filters by tag and state. */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import type { Schemas } from "../../../clients/ts/src/client.ts";
import { api } from "../api.ts";
import { Link } from "../router.tsx";
import { Choice, PageHead, ProblemBox, SearchField, Table, useLoad, when } from "../ui.tsx";
import { SpringPager } from "./organizations.tsx";

const size = 25;

/** The choices of the State filter (the online query parameter). */
const onlineStates: [string, string][] = [["", "Any"], ["true", "Online"], ["false", "Offline"]];

/** The devices page. */
export function DevicesPage({ org, ws }: { org: string; ws: string }): JSX.Element {
  const [search, setSearch] = useState("");
  const [tag, setTag] = useState("");
  const [online, setOnline] = useState("");
  const [page, setPage] = useState(0);
  const tags = useLoad(() => api.GET("/v3/tags", { params: { query: { workspaceId: ws, size: 100 } } }), [ws]);
  const assets = useLoad(
    () =>
      api.GET("/v3/assets", {
        params: {
          query: {
            workspaceId: ws,
            page,
            size,
            sort: ["name,asc"],
            ...(search ? { search } : {}),
            ...(tag ? { "tags.ids": [tag] } : {}),
            ...(online ? { online: online === "true" } : {}),
          },
        },
      }),
    [ws, search, tag, online, page],
  );
  return (
    <section>
      <PageHead title="Devices">
        <Link to={`/orgs/${org}/workspaces/${ws}/connectors`}>Output connectors</Link>
      </PageHead>
      <form class="filters" role="search" onSubmit={(e) => e.preventDefault()}>
        <SearchField label="Search" value={search} onSearch={(v) => (setSearch(v), setPage(0))} />
        <Choice label="Tag" value={tag} options={[["", "Any"], ...(tags.data?.content.map((t): [string, string] => [t.id, t.name]) ?? [])]} onChoose={(v) => (setTag(v), setPage(0))} />
        <Choice label="State" value={online} options={onlineStates} onChoose={(v) => (setOnline(v), setPage(0))} />
      </form>
      <ProblemBox problem={assets.problem ?? tags.problem} />
      <DeviceTable org={org} ws={ws} devices={assets.data?.content} loading={assets.loading} />
      {assets.data && assets.data.content.length === 0 ? <p class="muted">No device matches.</p> : null}
      <SpringPager page={page} last={assets.data?.last ?? true} onPage={setPage} />
    </section>
  );
}

/** The page of devices: name and physical id, online state, tags, last sample. */
function DeviceTable({ org, ws, devices, loading }: { org: string; ws: string; devices: Schemas["Device"][] | undefined; loading: boolean }): JSX.Element {
  return (
    <Table wrap columns={["Device", "State", "Tags", "Last sample"]} busy={loading}>
      {devices?.map((d) => (
        <tr key={d.id} data-testid="device-row">
          <td>
            <Link to={`/orgs/${org}/workspaces/${ws}/devices/${d.id}`}>{d.name}</Link>
            <div class="muted">{d.deviceId}</div>
          </td>
          <td>
            <span class={d.onlineState === "ONLINE" ? "badge ok" : "badge off"}>{d.onlineState.toLowerCase()}</span>
          </td>
          <td>{d.tags?.map((t) => <span class="tag" key={t.id}>{t.name}</span>)}</td>
          <td>{when(d.lastSampleAt)}</td>
        </tr>
      ))}
    </Table>
  );
}
