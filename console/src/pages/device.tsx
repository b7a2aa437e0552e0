/** One device: its latest sample per topic and a time-series chart of a data key. */
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { Schemas } from "../../../clients/ts/src/client.ts";
import { api } from "../api.ts";
import { LineChart } from "../chart.tsx";
import { Link } from "../router.tsx";
import { PageHead, ProblemBox, useLoad, when } from "../ui.tsx";

type Accumulator = Schemas["AggregationQuery"]["accumulator"];

/** The ranges offered, with the bucket each uses. */
const ranges: { label: string; hours: number; bucket: string }[] = [
  { label: "Last hour", hours: 1, bucket: "PT1M" },
  { label: "Last 24 hours", hours: 24, bucket: "PT1H" },
  { label: "Last 7 days", hours: 24 * 7, bucket: "PT6H" },
  { label: "Last 30 days", hours: 24 * 30, bucket: "P1D" },
];

/** The numeric keys of a sample's data (nested ones with dots). */
function numericKeys(data: Record<string, unknown>, prefix = ""): string[] {
  return Object.entries(data).flatMap(([k, v]) =>
    typeof v === "number" ? [prefix + k] : v && typeof v === "object" && !Array.isArray(v) ? numericKeys(v as Record<string, unknown>, `${prefix}${k}.`) : [],
  );
}

/** The device page. */
export function DevicePage({ org, ws, id }: { org: string; ws: string; id: string }): JSX.Element {
  const device = useLoad(() => api.GET("/v3/devices/{deviceId}", { params: { path: { deviceId: id } } }), [id]);
  const topics = useLoad(() => api.GET("/v3/devices/{deviceId}/query/topics", { params: { path: { deviceId: id } } }), [id]);
  const [topic, setTopic] = useState("default");
  useEffect(() => {
    const t = topics.data;
    if (t?.length && !t.includes(topic)) setTopic(t[0]!);
  }, [topics.data]);
  const latest = useLoad(() => api.GET("/v3/devices/{deviceId}/query/latest-sample", { params: { path: { deviceId: id }, query: { topic } } }), [id, topic]);
  const keys = latest.data ? numericKeys(latest.data.data) : [];
  const d = device.data;
  return (
    <section>
      <PageHead title={d?.name ?? "Device"}>
        <Link to={`/orgs/${org}/workspaces/${ws}/devices`}>Back to devices</Link>
      </PageHead>
      <ProblemBox problem={device.problem} />
      {d ? (
        <dl class="facts">
          <dt>State</dt>
          <dd>{d.onlineState.toLowerCase()}</dd>
          <dt>Physical id</dt>
          <dd>
            <code>{d.deviceId}</code>
          </dd>
          <dt>Connectivity</dt>
          <dd>{d.connectivity}</dd>
          <dt>Last sample</dt>
          <dd>{when(d.lastSampleAt)}</dd>
          <dt>Tags</dt>
          <dd>{d.tags?.length ? d.tags.map((t) => <span class="tag" key={t.id}>{t.name}</span>) : "—"}</dd>
        </dl>
      ) : null}
      <h2>Latest sample</h2>
      <label class="device-topic">
        Topic
        <select value={topic} onChange={(e) => setTopic(e.currentTarget.value)}>
          {(topics.data?.length ? topics.data : [topic]).map((t) => (
            <option key={t}>{t}</option>
          ))}
        </select>
      </label>
      {latest.problem?.status === 404 ? <p class="muted">No sample yet.</p> : <ProblemBox problem={latest.problem} />}
      {latest.data ? (
        <>
          <p class="muted">At {when(latest.data.timestamp)}</p>
          <pre class="json" data-testid="latest-sample">{JSON.stringify(latest.data.data, null, 2)}</pre>
        </>
      ) : null}
      <h2>Time series</h2>
      {keys.length === 0 ? <p class="muted">The latest sample has no numeric value to chart.</p> : <TimeSeries id={id} topic={topic} keys={keys} />}
    </section>
  );
}

/** A chart of one numeric data key of a topic, aggregated per bucket over a range. */
function TimeSeries({ id, topic, keys }: { id: string; topic: string; keys: string[] }): JSX.Element {
  const [dataKey, setDataKey] = useState("");
  const [range, setRange] = useState(1);
  const [acc, setAcc] = useState<Accumulator>("AVG");
  const key = keys.includes(dataKey) ? dataKey : keys[0]!;
  const r = ranges[range]!;
  const series = useLoad(() => {
    const to = new Date();
    const from = new Date(to.getTime() - r.hours * 3600_000);
    return api.POST("/v3/devices/{deviceId}/query/raw/time-series", {
      params: { path: { deviceId: id } },
      body: { topic, dataKey: key, accumulator: acc, interval: { from: from.toISOString(), to: to.toISOString() }, bucketInterval: r.bucket },
    });
  }, [id, topic, key, range, acc]);
  const kpi = useLoad(() => {
    const to = new Date();
    const from = new Date(to.getTime() - r.hours * 3600_000);
    return api.POST("/v3/devices/{deviceId}/query/raw/kpi", {
      params: { path: { deviceId: id } },
      body: { topic, dataKey: key, accumulator: acc, interval: { from: from.toISOString(), to: to.toISOString() } },
    });
  }, [id, topic, key, range, acc]);
  return (
    <>
      <div class="filters">
        <label>
          Data key
          <select value={key} onChange={(e) => setDataKey(e.currentTarget.value)}>
            {keys.map((k) => (
              <option key={k}>{k}</option>
            ))}
          </select>
        </label>
        <label>
          Range
          <select value={String(range)} onChange={(e) => setRange(Number(e.currentTarget.value))}>
            {ranges.map((x, i) => (
              <option key={x.label} value={String(i)}>
                {x.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Aggregate
          <select value={acc} onChange={(e) => setAcc(e.currentTarget.value as Accumulator)}>
            {(["AVG", "MIN", "MAX", "SUM", "COUNT", "FIRST"] as const).map((a) => (
              <option key={a}>{a}</option>
            ))}
          </select>
        </label>
      </div>
      <ProblemBox problem={series.problem ?? kpi.problem} />
      {kpi.data ? (
        <p class="kpi" data-testid="kpi">
          {acc} of {key} over the range: <strong>{kpi.data.kpi === null ? "no value" : String(Math.round(kpi.data.kpi * 1000) / 1000)}</strong>
        </p>
      ) : null}
      {series.data ? <LineChart label={`${acc} of ${key} per ${r.bucket}`} times={series.data.timestamps} values={series.data.dataPoints} /> : null}
    </>
  );
}
