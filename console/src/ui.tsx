/**
 * The console's shared pieces: problem display, the progress bar, tables,
 * filter fields, paging, confirmation dialogs, a copy button and a hook that loads data.
 */
import type { ComponentChildren, JSX } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import type { Problem } from "../../clients/ts/src/client.ts";
import { asProblem, onProgress } from "./api.ts";

/** Shows a problem+json body: its title, detail and each failed member. */
export function ProblemBox({ problem }: { problem: Problem | null | undefined }): JSX.Element | null {
  if (!problem) return null;
  return (
    <div class="problem" role="alert">
      <strong>{problem.title}</strong>
      {problem.status ? <span class="status"> ({problem.status})</span> : null}
      {problem.detail ? <p>{problem.detail}</p> : null}
      {problem.errors?.length ? (
        <ul>
          {problem.errors.map((e) => (
            <li key={e.memberName}>
              <code>{e.memberName}</code>: {e.message}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

/**
 * A table with one header row, columns, over its rows (the children). wrap
 * frames it in a card that scrolls sideways on narrow screens; busy marks it
 * as loading (aria-busy) while its rows are being replaced.
 */
export function Table({ columns, wrap, busy, children }: { columns: string[]; wrap?: boolean; busy?: boolean; children: ComponentChildren }): JSX.Element {
  const table = (
    <table aria-busy={busy}>
      <thead>
        <tr>
          {columns.map((c) => (
            <th key={c} scope="col">
              {c}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>{children}</tbody>
    </table>
  );
  return wrap ? <div class="table-wrap">{table}</div> : table;
}

/** A labelled search field; onSearch gets the text at each edit. */
export function SearchField(props: { label: string; value: string; onSearch: (text: string) => void; class?: string }): JSX.Element {
  return (
    <label class={props.class}>
      {props.label}
      <input type="search" value={props.value} onInput={(e) => props.onSearch(e.currentTarget.value)} />
    </label>
  );
}

/** A labelled choice among options, [value, label] pairs; onChoose gets the value chosen. */
export function Choice(props: { label: string; value: string; options: [string, string][]; onChoose: (value: string) => void }): JSX.Element {
  return (
    <label>
      {props.label}
      <select value={props.value} onChange={(e) => props.onChoose(e.currentTarget.value)}>
        {props.options.map(([value, label]) => (
          <option key={value} value={value}>
            {label}
          </option>
        ))}
      </select>
    </label>
  );
}

/** A bar at the top of the page while an API call has taken longer than 200 ms. */
export function ProgressBar(): JSX.Element {
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    return onProgress((n) => {
      clearTimeout(timer);
      if (n > 0) timer = setTimeout(() => setBusy(true), 200);
      else setBusy(false);
    });
  }, []);
  return <div class={busy ? "progress busy" : "progress"} role="progressbar" aria-label="Loading" aria-busy={busy} hidden={!busy} />;
}

/** The result of {@link useLoad}: the data, the problem, whether it is loading, and a reload. */
export interface Loaded<T> {
  data: T | undefined;
  problem: Problem | null;
  loading: boolean;
  reload: () => void;
}

/**
 * Loads data with an API call whenever deps change. The call returns
 * openapi-fetch's `{data, error, response}`.
 */
export function useLoad<T>(
  call: () => Promise<{ data?: T; error?: unknown; response: Response }>,
  deps: unknown[],
): Loaded<T> {
  const [state, setState] = useState<{ data?: T; problem: Problem | null; loading: boolean }>({ problem: null, loading: true });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    call().then(
      (r) => live && setState(r.data !== undefined ? { data: r.data, problem: null, loading: false } : { problem: asProblem(r.error, r.response), loading: false }),
      (err: unknown) => live && setState({ problem: asProblem(err), loading: false }),
    );
    return () => {
      live = false;
    };
    // call is a new closure on each render: deps say when it changes.
  }, [...deps, n]);
  const reload = useCallback(() => setN((x) => x + 1), []);
  return { data: state.data, problem: state.problem, loading: state.loading, reload };
}

/** Previous/next paging over an offset list; `total` may be unknown (-1). */
export function Pager(props: { skip: number; take: number; count: number; total: number; onSkip: (skip: number) => void }): JSX.Element {
  const { skip, take, count, total, onSkip } = props;
  const last = total >= 0 ? skip + count >= total : count < take;
  return (
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled={skip === 0} onClick={() => onSkip(Math.max(0, skip - take))}>
        ← Previous
      </button>
      <span>
        {count === 0 ? "none" : `${skip + 1}–${skip + count}`}
        {total >= 0 ? ` of ${total}` : ""}
      </span>
      <button type="button" disabled={last} onClick={() => onSkip(skip + take)}>
        Next →
      </button>
    </nav>
  );
}

/**
 * A modal dialog asking to confirm an action (the browser's <dialog>: focus
 * moves into it, Escape cancels).
 */
export function Confirm(props: {
  open: boolean;
  title: string;
  children: ComponentChildren;
  confirm: string;
  danger?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}): JSX.Element {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (props.open && !d.open) d.showModal();
    if (!props.open && d.open) d.close();
  }, [props.open]);
  return (
    <dialog ref={ref} aria-labelledby="confirm-title" onCancel={props.onCancel} onClose={() => props.open && props.onCancel()}>
      <h2 id="confirm-title">{props.title}</h2>
      <div>{props.children}</div>
      <div class="actions">
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="button" class={props.danger ? "danger" : "primary"} onClick={props.onConfirm}>
          {props.confirm}
        </button>
      </div>
    </dialog>
  );
}

/** A button that copies text to the clipboard and says so. */
export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }): JSX.Element {
  const [done, setDone] = useState<string | null>(null);
  return (
    <button
      type="button"
      onClick={() =>
        navigator.clipboard.writeText(text).then(
          () => setDone("Copied"),
          () => setDone("Copy failed: select the text and copy it"),
        )
      }
    >
      {label}
      <span class="copied" role="status">
        {done ? ` — ${done}` : ""}
      </span>
    </button>
  );
}

/** A date-time for people: local, to the second; "—" when absent. */
export function when(t: string | undefined | null): string {
  if (!t) return "—";
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? t : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

/** A heading row with optional actions on the right. */
export function PageHead({ title, children }: { title: string; children?: ComponentChildren }): JSX.Element {
  return (
    <div class="page-head">
      <h1>{title}</h1>
      {children ? <div class="actions">{children}</div> : null}
    </div>
  );
}
