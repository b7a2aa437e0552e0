/**
 * The permission picker: one row per scope, a box per verb, and for the
 * scopes that live in workspaces a choice of all workspaces or some. Only
 * what the caller may grant is offered (GET /v3/workspace-access for each
 * scope and verb): a verb the caller lacks is disabled, and a caller limited
 * to some workspaces may only pick among those.
 */
import type { JSX } from "preact";
import type { Permission, Workspace } from "../../clients/ts/src/client.ts";
import { reaches, scopes, verbsOf, workspaceScopes, type Reach, type Scope, type Verb } from "./reach.ts";
import { Table } from "./ui.tsx";

/** One scope's choice in the picker. */
export interface Row {
  verbs: Verb[];
  /** null: every workspace of the organization. */
  workspaceIds: string[] | null;
}

/** The picker's state, by scope. */
export type Picked = Partial<Record<Scope, Row>>;

/** The caller's reach, by scope and verb. */
export type Reaches = Partial<Record<Scope, Partial<Record<Verb, Reach>>>>;

/** The workspaces a row may name: those every chosen verb reaches (all of them when the caller has all). */
export function allowedWorkspaces(r: Reaches, scope: Scope, verbs: Verb[], all: Workspace[]): { any: boolean; ids: string[] } {
  let any = true;
  let ids = all.map((w) => w.id);
  for (const v of verbs) {
    const x = r[scope]?.[v];
    if (!x?.all) {
      any = false;
      ids = ids.filter((id) => x?.ids.includes(id));
    }
  }
  return { any, ids };
}

/** The permissions of the picked rows, as the API takes them; or a message saying what is missing. */
export function toPermissions(p: Picked): Permission[] | string {
  const out: Permission[] = [];
  for (const s of scopes) {
    const row = p[s];
    if (!row || row.verbs.length === 0) continue;
    if (row.workspaceIds && row.workspaceIds.length === 0) return `${s}: pick at least one workspace`;
    out.push(row.workspaceIds ? { scope: s, verbs: row.verbs, workspaceIds: row.workspaceIds } : { scope: s, verbs: row.verbs });
  }
  return out;
}

/** The picker. */
export function PermissionPicker(props: { reaches: Reaches; workspaces: Workspace[]; value: Picked; onChange: (p: Picked) => void }): JSX.Element {
  const { reaches: r, workspaces, value, onChange } = props;
  const offered = scopes.filter((s) => verbsOf(s).some((v) => reaches(r[s]?.[v])));
  return (
    <fieldset class="picker">
      <legend>Permissions</legend>
      {offered.length === 0 ? <p class="muted">You may grant nothing in this organization.</p> : null}
      <Table columns={["Scope", "Verbs", "Workspaces"]}>
        {offered.map((s) => (
          <PermissionRow key={s} scope={s} reaches={r} workspaces={workspaces} row={value[s] ?? { verbs: [], workspaceIds: null }} onChange={(row) => onChange({ ...value, [s]: row })} />
        ))}
      </Table>
    </fieldset>
  );
}

/** One scope of the picker: its verbs, and for a workspace scope all workspaces or some. */
function PermissionRow(props: { scope: Scope; reaches: Reaches; workspaces: Workspace[]; row: Row; onChange: (row: Row) => void }): JSX.Element {
  const { scope: s, reaches: r, workspaces, row, onChange } = props;
  const allowed = allowedWorkspaces(r, s, row.verbs, workspaces);
  const limited = row.workspaceIds !== null || (!allowed.any && row.verbs.length > 0);
  const toggleVerb = (v: Verb, on: boolean) => {
    const verbs = on ? [...row.verbs, v] : row.verbs.filter((x) => x !== v);
    const next = allowedWorkspaces(r, s, verbs, workspaces);
    // Narrower verbs narrow the workspaces: keep only those still allowed.
    let ids = row.workspaceIds;
    if (!next.any && ids === null) ids = [];
    if (ids) ids = ids.filter((id) => next.ids.includes(id));
    onChange({ verbs, workspaceIds: ids });
  };
  return (
    <tr data-scope={s}>
      <th scope="row">{s}</th>
      <td class="verbs">
        {verbsOf(s).map((v) => {
          const can = reaches(r[s]?.[v]);
          return (
            <label key={v} class={can ? "" : "disabled"} title={can ? "" : "You do not hold this right"}>
              <input type="checkbox" name={`${s}:${v}`} disabled={!can} checked={row.verbs.includes(v)} onChange={(e) => toggleVerb(v, e.currentTarget.checked)} />
              {v}
            </label>
          );
        })}
      </td>
      <td>{workspaceScopes.has(s) ? <WorkspaceChoice {...props} allowed={allowed} limited={limited} /> : <span class="muted">whole organization</span>}</td>
    </tr>
  );
}

/** All workspaces, or only the checked ones among those the caller may grant. */
function WorkspaceChoice(props: { scope: Scope; workspaces: Workspace[]; row: Row; onChange: (row: Row) => void; allowed: { any: boolean; ids: string[] }; limited: boolean }): JSX.Element {
  const { scope: s, workspaces, row, onChange, allowed, limited } = props;
  return (
    <div class="ws-choice">
      <label>
        <input type="radio" name={`${s}-ws`} checked={!limited} disabled={!allowed.any} onChange={() => onChange({ ...row, workspaceIds: null })} />
        All workspaces
      </label>
      <label>
        <input type="radio" name={`${s}-ws`} checked={limited} onChange={() => onChange({ ...row, workspaceIds: row.workspaceIds ?? [] })} />
        Only:
      </label>
      {limited
        ? workspaces
            .filter((w) => allowed.ids.includes(w.id))
            .map((w) => (
              <label key={w.id}>
                <input
                  type="checkbox"
                  name={`${s}-ws-${w.id}`}
                  checked={row.workspaceIds?.includes(w.id) ?? false}
                  onChange={(e) => {
                    const ids = row.workspaceIds ?? [];
                    onChange({ ...row, workspaceIds: e.currentTarget.checked ? [...ids, w.id] : ids.filter((x) => x !== w.id) });
                  }}
                />
                {w.name}
              </label>
            ))
        : null}
    </div>
  );
}
