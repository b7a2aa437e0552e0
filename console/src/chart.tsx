/**
 * Two small SVG charts: a line over a time series and bars of counts per
 * day. No chart library: a few paths and labels, sized by the viewBox so
 * they scale with the page.
 */
import type { JSX } from "preact";

const W = 640;
const H = 220;
const pad = { l: 48, r: 12, t: 12, b: 28 };

/** Short numeric label. */
function num(v: number): string {
  return Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(1) : String(Math.round(v * 100) / 100);
}

/** Min and max of the values, widened when they are equal so that the scale is not empty. */
function extent(values: number[]): [number, number] {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (!Number.isFinite(lo)) return [0, 1];
  if (lo === hi) [lo, hi] = [lo - 1, hi + 1];
  return [lo, hi];
}

/** A line chart of values at times (ISO strings); points with no value (null) break the line. */
export function LineChart(props: { label: string; times: string[]; values: (number | null)[] }): JSX.Element {
  const { label, times, values } = props;
  const xs = times.map((t) => Date.parse(t));
  const nums = values.filter((v): v is number => v !== null);
  if (nums.length === 0) return <p class="muted">No numeric value in this interval.</p>;
  const [t0, t1] = [xs[0]!, xs[xs.length - 1]! === xs[0]! ? xs[0]! + 1 : xs[xs.length - 1]!];
  const [lo, hi] = extent(nums);
  const x = (t: number) => pad.l + ((t - t0) / (t1 - t0)) * (W - pad.l - pad.r);
  const y = (v: number) => H - pad.b - ((v - lo) / (hi - lo)) * (H - pad.t - pad.b);
  let d = "";
  let pen = false;
  values.forEach((v, i) => {
    if (v === null) return void (pen = false);
    d += `${pen ? "L" : "M"}${x(xs[i]!).toFixed(1)},${y(v).toFixed(1)}`;
    pen = true;
  });
  const fmt = (t: number) => new Date(t).toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  return (
    <svg class="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label}>
      <title>{label}</title>
      <line class="axis" x1={pad.l} y1={H - pad.b} x2={W - pad.r} y2={H - pad.b} />
      <line class="axis" x1={pad.l} y1={pad.t} x2={pad.l} y2={H - pad.b} />
      <text class="tick" x={pad.l - 4} y={y(hi) + 4} text-anchor="end">
        {num(hi)}
      </text>
      <text class="tick" x={pad.l - 4} y={y(lo) + 4} text-anchor="end">
        {num(lo)}
      </text>
      <text class="tick" x={pad.l} y={H - 8}>
        {fmt(t0)}
      </text>
      <text class="tick" x={W - pad.r} y={H - 8} text-anchor="end">
        {fmt(t1)}
      </text>
      <path class="line" d={d} />
      {values.map((v, i) =>
        v === null ? null : (
          <circle key={i} class="dot" cx={x(xs[i]!)} cy={y(v)} r={2.5}>
            <title>{`${times[i]}: ${v}`}</title>
          </circle>
        ),
      )}
    </svg>
  );
}

/** Bars of a count per day (YYYY-MM-DD). */
export function DayBars(props: { label: string; days: { date: string; requests: number }[] }): JSX.Element {
  const { label, days } = props;
  const max = Math.max(1, ...days.map((d) => d.requests));
  const bw = (W - pad.l - pad.r) / Math.max(1, days.length);
  const y = (v: number) => H - pad.b - (v / max) * (H - pad.t - pad.b);
  return (
    <svg class="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label}>
      <title>{label}</title>
      <line class="axis" x1={pad.l} y1={H - pad.b} x2={W - pad.r} y2={H - pad.b} />
      <text class="tick" x={pad.l - 4} y={y(max) + 4} text-anchor="end">
        {max}
      </text>
      <text class="tick" x={pad.l - 4} y={H - pad.b} text-anchor="end">
        0
      </text>
      {days.map((d, i) => (
        <rect key={d.date} class="bar" x={pad.l + i * bw + 1} y={y(d.requests)} width={Math.max(1, bw - 2)} height={H - pad.b - y(d.requests)}>
          <title>{`${d.date}: ${d.requests} requests`}</title>
        </rect>
      ))}
      {days.length ? (
        <>
          <text class="tick" x={pad.l} y={H - 8}>
            {days[0]!.date}
          </text>
          <text class="tick" x={W - pad.r} y={H - 8} text-anchor="end">
            {days[days.length - 1]!.date}
          </text>
        </>
      ) : null}
    </svg>
  );
}
