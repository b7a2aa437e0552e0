/** Creating an API key: name, user, expiry and permissions; then its secret, shown once. */
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import type { ApiKey, ApiKeyInput, Problem, Workspace } from "../../../clients/ts/src/client.ts";
import { api, asProblem } from "../api.ts";
import { PermissionPicker, toPermissions, type Picked, type Reaches } from "../permissions.tsx";
import { reach, scopes, verbsOf } from "../reach.ts";
import { Link, navigate } from "../router.tsx";
import { PageHead, ProblemBox } from "../ui.tsx";
import { SecretOnce } from "./secret.tsx";

/** Everything the caller may grant in org, by scope and verb. */
async function loadReaches(org: string): Promise<Reaches> {
  const out: Reaches = {};
  await Promise.all(
    scopes.flatMap((s) =>
      verbsOf(s).map(async (v) => {
        (out[s] ??= {})[v] = await reach(org, s, v);
      }),
    ),
  );
  return out;
}

/** Every workspace of org the caller may see (the picker's names). */
async function loadWorkspaces(org: string): Promise<Workspace[]> {
  const { data } = await api.GET("/v3/workspaces", { params: { query: { organizationId: org, size: 100, sort: ["name,asc"] } } });
  return data?.content ?? [];
}

/** A datetime-local value (local time) as RFC 3339, or undefined when empty. */
function instant(local: string): string | undefined {
  return local ? new Date(local).toISOString() : undefined;
}

/** The new-key page. */
export function KeyCreatePage({ org }: { org: string }): JSX.Element {
  const [reaches, setReaches] = useState<Reaches | null>(null);
  const [workspaces, setWorkspaces] = useState<Workspace[]>([]);
  const [picked, setPicked] = useState<Picked>({});
  const [problem, setProblem] = useState<Problem | null>(null);
  const [created, setCreated] = useState<ApiKey | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    void Promise.all([loadReaches(org), loadWorkspaces(org)]).then(([r, w]) => (setReaches(r), setWorkspaces(w)));
  }, [org]);

  async function submit(e: Event) {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const permissions = toPermissions(picked);
    if (typeof permissions === "string") return setProblem({ title: "Permissions incomplete", status: 0, detail: permissions });
    const body: ApiKeyInput = {
      name: String(f.get("name") ?? ""),
      isActive: f.get("isActive") === "on",
      organizationId: org,
      permissions,
    };
    const description = String(f.get("description") ?? "");
    const userName = String(f.get("userName") ?? "");
    const expiresAt = instant(String(f.get("expiresAt") ?? ""));
    if (description) body.description = description;
    if (userName) body.userName = userName;
    if (expiresAt) body.expiresAt = expiresAt;
    setBusy(true);
    const { data, error, response } = await api.POST("/apikeys", { body });
    setBusy(false);
    if (!data) return setProblem(asProblem(error, response));
    setProblem(null);
    setCreated(data);
  }

  if (created?.clientSecret) {
    return (
      <section>
        <PageHead title={`Created ${created.name}`} />
        <SecretOnce secret={created.clientSecret} clientId={created.clientId} onDone={() => navigate(`/orgs/${org}/keys/${created.id}`)} />
      </section>
    );
  }
  return (
    <section>
      <PageHead title="New API key">
        <Link to={`/orgs/${org}/keys`}>Back to API keys</Link>
      </PageHead>
      <ProblemBox problem={problem} />
      <form class="stack" onSubmit={submit}>
        <KeyFields />
        {reaches ? <PermissionPicker reaches={reaches} workspaces={workspaces} value={picked} onChange={setPicked} /> : <p aria-busy="true">Loading what you may grant…</p>}
        <button type="submit" class="primary" disabled={busy || !reaches}>
          Create key
        </button>
      </form>
    </section>
  );
}

/** The key's own fields (read from the form on submit). */
function KeyFields(): JSX.Element {
  return (
    <>
      <label>
        Name
        <input name="name" required maxLength={200} />
      </label>
      <label>
        Description
        <input name="description" maxLength={2000} />
      </label>
      <label>
        Acts as user (optional)
        <input name="userName" maxLength={200} autocomplete="off" />
      </label>
      <label>
        Expires (optional)
        <input name="expiresAt" type="datetime-local" />
      </label>
      <label class="inline">
        <input name="isActive" type="checkbox" defaultChecked />
        Active
      </label>
    </>
  );
}
