/**
 * The console's frame: sign-in when there is no session, else the header,
 * the organization's navigation and the page the path names.
 */
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { logout } from "./api.ts";
import { AuditPage } from "./pages/audit.tsx";
import { ConnectorsPage } from "./pages/connectors.tsx";
import { DevicePage } from "./pages/device.tsx";
import { DevicesPage } from "./pages/devices.tsx";
import { KeyCreatePage } from "./pages/keycreate.tsx";
import { KeyPage } from "./pages/key.tsx";
import { KeysPage } from "./pages/keys.tsx";
import { LoginPage } from "./pages/login.tsx";
import { OrganizationPage, OrganizationsPage } from "./pages/organizations.tsx";
import { forgetReach, reach, reaches } from "./reach.ts";
import { Link, match, navigate, useLocation } from "./router.tsx";
import { onSession, session } from "./session.ts";
import { ProgressBar } from "./ui.tsx";

/** The console. */
export function App(): JSX.Element {
  const [s, setS] = useState(session());
  useEffect(
    () =>
      onSession(() => {
        forgetReach();
        setS(session());
      }),
    [],
  );
  const { path } = useLocation();
  if (!s) return <LoginPage />;
  const org = match("/orgs/:org", path.split("/").slice(0, 3).join("/"))?.org;
  const who = s.kind === "password" ? s.user.displayName || s.user.userName : s.kind === "apiKey" ? "API key" : "Token";
  return (
    <div class="frame">
      <ProgressBar />
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <Link to="/" class="brand">
          keyplane
        </Link>
        <span class="who" data-testid="who">
          {who}
        </span>
        <button type="button" onClick={() => void logout().then(() => navigate("/"))}>
          Sign out
        </button>
      </header>
      <div class="body">
        {org ? <OrgNav org={org} path={path} /> : null}
        <main id="main" tabIndex={-1}>
          <Page path={path} />
        </main>
      </div>
    </div>
  );
}

/** The page for a path. */
function Page({ path }: { path: string }): JSX.Element {
  let m: Record<string, string> | null;
  if ((m = match("/orgs/:org/keys/new", path))) return <KeyCreatePage org={m.org!} />;
  if ((m = match("/orgs/:org/keys/:id", path))) return <KeyPage org={m.org!} id={m.id!} />;
  if ((m = match("/orgs/:org/keys", path))) return <KeysPage org={m.org!} />;
  if ((m = match("/orgs/:org/audit", path))) return <AuditPage org={m.org!} />;
  if ((m = match("/orgs/:org/workspaces/:ws/devices/:id", path))) return <DevicePage org={m.org!} ws={m.ws!} id={m.id!} />;
  if ((m = match("/orgs/:org/workspaces/:ws/devices", path))) return <DevicesPage org={m.org!} ws={m.ws!} />;
  if ((m = match("/orgs/:org/workspaces/:ws/connectors", path))) return <ConnectorsPage org={m.org!} ws={m.ws!} />;
  if ((m = match("/orgs/:org", path))) return <OrganizationPage org={m.org!} />;
  if (path === "/" || path === "/orgs") return <OrganizationsPage />;
  return (
    <div>
      <h1>Not found</h1>
      <p>
        The console has no page at <code>{path}</code>. <Link to="/">Organizations</Link>
      </p>
    </div>
  );
}

/** The organization's entries, each shown only when the caller's rights reach it. */
function OrgNav({ org, path }: { org: string; path: string }): JSX.Element {
  const [can, setCan] = useState({ keys: false, audit: false, loaded: false });
  useEffect(() => {
    let live = true;
    void Promise.all([reach(org, "API_KEY", "READ"), reach(org, "AUDIT", "READ")]).then(([k, a]) => {
      if (live) setCan({ keys: reaches(k), audit: reaches(a), loaded: true });
    });
    return () => {
      live = false;
    };
  }, [org]);
  const item = (to: string, label: string, testid: string) => (
    <li>
      <Link to={to} aria-current={path === to || (to !== `/orgs/${org}` && path.startsWith(to + "/")) ? "page" : undefined} data-testid={testid}>
        {label}
      </Link>
    </li>
  );
  return (
    <nav class="side" aria-label="Organization" data-loaded={String(can.loaded)}>
      <ul>
        {item(`/orgs/${org}`, "Workspaces", "nav-workspaces")}
        {can.keys ? item(`/orgs/${org}/keys`, "API keys", "nav-keys") : null}
        {can.audit ? item(`/orgs/${org}/audit`, "Audit log", "nav-audit") : null}
      </ul>
    </nav>
  );
}
