/**
 * One API key: its permissions and usage, and what may be done to it
 * (activate or deactivate, set the expiry, rotate with a grace period, delete).
 */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import type { ApiKey, ApiKeyInput, Problem } from "../../../clients/ts/src/client.ts";
import { api, asProblem } from "../api.ts";
import { DayBars } from "../chart.tsx";
import { Link, navigate } from "../router.tsx";
import { Confirm, PageHead, ProblemBox, useLoad, when } from "../ui.tsx";
import { SecretOnce } from "./secret.tsx";

/** The writable fields of a key as read, for a PUT that changes some of them. */
function inputOf(k: ApiKey): ApiKeyInput {
  const { name, description, isActive, userName, deviceName, permissions, organizationId, expiresAt, _v } = k;
  const out: ApiKeyInput = { name, isActive, permissions, _v };
  if (description !== undefined) out.description = description;
  if (userName !== undefined) out.userName = userName;
  if (deviceName !== undefined) out.deviceName = deviceName;
  if (organizationId !== undefined) out.organizationId = organizationId;
  if (expiresAt !== undefined) out.expiresAt = expiresAt;
  return out;
}

/** A datetime-local input's value for an instant (local time, to the minute). */
function localInput(t: string | undefined): string {
  if (!t) return "";
  const d = new Date(t);
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** The grace periods offered on rotation, in seconds. */
const graces: [number, string][] = [
  [0, "none (the old secret stops now)"],
  [3600, "1 hour"],
  [86400, "1 day"],
  [7 * 86400, "7 days"],
  [30 * 86400, "30 days"],
];

/** What the management boxes report back to the page. */
interface Actions {
  /** PUT the key with these changes (and without expiresAt when clearExpiry). */
  update: (change: Partial<ApiKeyInput>, clearExpiry?: boolean) => Promise<void>;
  /** A rotation returned this secret. */
  rotated: (secret: string) => void;
  problem: (p: Problem | null) => void;
}

/** The key page. */
export function KeyPage({ org, id }: { org: string; id: string }): JSX.Element {
  const key = useLoad(() => api.GET("/apikeys/{id}", { params: { path: { id } } }), [id]);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [secret, setSecret] = useState<string | null>(null);
  const k = key.data;
  const actions: Actions = {
    async update(change, clearExpiry) {
      if (!k) return;
      const body = { ...inputOf(k), ...change };
      if (clearExpiry) delete body.expiresAt;
      const { data, error, response } = await api.PUT("/apikeys/{id}", { params: { path: { id } }, body });
      setProblem(data ? null : asProblem(error, response));
      key.reload();
    },
    rotated: (s) => (setProblem(null), setSecret(s)),
    problem: setProblem,
  };
  if (secret) {
    return (
      <section>
        <PageHead title={`Rotated ${k?.name ?? "key"}`} />
        <SecretOnce secret={secret} onDone={() => (setSecret(null), key.reload())} />
      </section>
    );
  }
  return (
    <section>
      <PageHead title={k?.name ?? "API key"}>
        <Link to={`/orgs/${org}/keys`}>Back to API keys</Link>
      </PageHead>
      <ProblemBox problem={key.problem ?? problem} />
      {k ? (
        <>
          <KeyFacts k={k} />
          <KeyPermissions org={org} k={k} />
          <KeyUsage id={id} />
          <h2>Manage</h2>
          <div class="manage">
            <ActiveBox k={k} actions={actions} />
            <ExpiryBox k={k} actions={actions} />
            <RotateBox k={k} actions={actions} />
            <DeleteBox org={org} k={k} actions={actions} />
          </div>
        </>
      ) : null}
    </section>
  );
}

/** The key's fields. */
function KeyFacts({ k }: { k: ApiKey }): JSX.Element {
  return (
    <dl class="facts">
      <dt>State</dt>
      <dd data-testid="key-state">{k.isActive ? "active" : "inactive"}</dd>
      <dt>Id</dt>
      <dd>
        <code>{k.id}</code>
      </dd>
      <dt>Client id</dt>
      <dd>
        <code>{k.clientId}</code>
      </dd>
      <dt>Acts as</dt>
      <dd>{k.userName ? `${k.userName}${k.deviceName ? ` on ${k.deviceName}` : ""}` : "—"}</dd>
      <dt>Created</dt>
      <dd>{when(k.createdAt)}</dd>
      <dt>Expires</dt>
      <dd>{when(k.expiresAt)}</dd>
      <dt>Last used</dt>
      <dd data-testid="last-used">{when(k.lastUsedAt)}</dd>
      {k.previousSecretExpiresAt ? (
        <>
          <dt>Previous secret works until</dt>
          <dd>{when(k.previousSecretExpiresAt)}</dd>
        </>
      ) : null}
      <dt>Version</dt>
      <dd>{k._v}</dd>
    </dl>
  );
}

/** The key's grants, with workspace names. */
function KeyPermissions({ org, k }: { org: string; k: ApiKey }): JSX.Element {
  const workspaces = useLoad(() => api.GET("/v3/workspaces", { params: { query: { organizationId: org, size: 100 } } }), [org]);
  const wsName = (wid: string) => workspaces.data?.content.find((w) => w.id === wid)?.name ?? wid;
  return (
    <>
      <h2>Permissions</h2>
      {k.permissions.length === 0 ? (
        <p class="muted">{k.userName ? "None listed: the key has the user's rights in its organization." : "None: the key may do nothing."}</p>
      ) : (
        <ul data-testid="key-permissions">
          {k.permissions.map((p) => (
            <li key={p.scope}>
              <strong>{p.scope}</strong> {p.verbs.join(", ")} {p.workspaceIds ? `in ${p.workspaceIds.map(wsName).join(", ")}` : "in every workspace"}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}

/** Requests per day over the last 30 days (GET /apikeys/{id}/usage). */
function KeyUsage({ id }: { id: string }): JSX.Element {
  const usage = useLoad(() => api.GET("/apikeys/{id}/usage", { params: { path: { id } } }), [id]);
  return (
    <>
      <h2>Usage</h2>
      <ProblemBox problem={usage.problem} />
      {usage.data ? (
        <>
          <p>
            {usage.data.total} requests from {usage.data.from} to {usage.data.to}.
          </p>
          <DayBars label="Requests per day" days={usage.data.days} />
        </>
      ) : null}
    </>
  );
}

/** Activates or deactivates the key. */
function ActiveBox({ k, actions }: { k: ApiKey; actions: Actions }): JSX.Element {
  return (
    <div class="box">
      <h3>{k.isActive ? "Deactivate" : "Activate"}</h3>
      <p class="muted">{k.isActive ? "An inactive key authenticates nothing until activated again." : "Let the key authenticate again."}</p>
      <button type="button" data-testid="toggle-active" onClick={() => void actions.update({ isActive: !k.isActive })}>
        {k.isActive ? "Deactivate" : "Activate"}
      </button>
    </div>
  );
}

/** Sets or clears the key's expiry. */
function ExpiryBox({ k, actions }: { k: ApiKey; actions: Actions }): JSX.Element {
  return (
    <form
      class="box"
      onSubmit={(e) => {
        e.preventDefault();
        const v = String(new FormData(e.currentTarget).get("expiresAt") ?? "");
        void (v ? actions.update({ expiresAt: new Date(v).toISOString() }) : actions.update({}, true));
      }}
    >
      <h3>Expiry</h3>
      <label>
        Expires at (empty: never)
        <input name="expiresAt" type="datetime-local" defaultValue={localInput(k.expiresAt)} key={k._v} />
      </label>
      <button type="submit">Save expiry</button>
    </form>
  );
}

/** Rotates the secret, with the grace period the previous one keeps working. */
function RotateBox({ k, actions }: { k: ApiKey; actions: Actions }): JSX.Element {
  const [grace, setGrace] = useState(86400);
  const [endPrevious, setEndPrevious] = useState(false);
  async function rotate() {
    const { data, error, response } = await api.POST("/apikeys/{id}/rotate", {
      params: { path: { id: k.id } },
      body: { gracePeriodSeconds: grace, ...(endPrevious ? { endPreviousGrace: true } : {}) },
    });
    if (data?.clientSecret) actions.rotated(data.clientSecret);
    else actions.problem(asProblem(error, response));
  }
  return (
    <div class="box">
      <h3>Rotate</h3>
      <label>
        Old secret keeps working for
        <select value={String(grace)} onChange={(e) => setGrace(Number(e.currentTarget.value))} data-testid="grace">
          {graces.map(([s, l]) => (
            <option key={s} value={String(s)}>
              {l}
            </option>
          ))}
        </select>
      </label>
      <label class="inline">
        <input type="checkbox" checked={endPrevious} onChange={(e) => setEndPrevious(e.currentTarget.checked)} />
        End an earlier secret's grace now
      </label>
      <button type="button" data-testid="rotate" onClick={() => void rotate()}>
        Rotate secret
      </button>
    </div>
  );
}

/** Deletes the key after a confirmation. */
function DeleteBox({ org, k, actions }: { org: string; k: ApiKey; actions: Actions }): JSX.Element {
  const [confirming, setConfirming] = useState(false);
  async function remove() {
    setConfirming(false);
    const { data, error, response } = await api.DELETE("/apikeys/{id}", { params: { path: { id: k.id } } });
    if (!data) return actions.problem(asProblem(error, response));
    navigate(`/orgs/${org}/keys`);
  }
  return (
    <div class="box">
      <h3>Delete</h3>
      <p class="muted">Requests made with the key fail from then on.</p>
      <button type="button" class="danger" data-testid="delete" onClick={() => setConfirming(true)}>
        Delete key
      </button>
      <Confirm open={confirming} title={`Delete ${k.name}?`} confirm="Delete" danger onConfirm={() => void remove()} onCancel={() => setConfirming(false)}>
        <p>The key stops working at once. This cannot be undone.</p>
      </Confirm>
    </div>
  );
}
