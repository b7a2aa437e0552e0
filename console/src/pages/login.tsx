/** Sign-in: a user name and password, or a pasted API key secret or bearer token. */
import type { JSX } from "preact";
import { useState } from "preact/hooks";
import type { Problem } from "../../../clients/ts/src/client.ts";
import { api, asProblem, login } from "../api.ts";
import { pastedKind, setSession } from "../session.ts";
import { ProblemBox, ProgressBar } from "../ui.tsx";

/** The sign-in page. */
export function LoginPage(): JSX.Element {
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);

  async function withPassword(e: Event) {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    setBusy(true);
    setProblem(await login(String(f.get("userName") ?? ""), String(f.get("password") ?? "")));
    setBusy(false);
  }

  async function withSecret(e: Event) {
    e.preventDefault();
    const secret = String(new FormData(e.currentTarget as HTMLFormElement).get("secret") ?? "").trim();
    if (!secret) return setProblem({ title: "Paste a key or token", status: 0 });
    setBusy(true);
    setSession({ kind: pastedKind(secret), secret });
    // One call proves the credential; a 401 signs out again (api.ts).
    const { error, response } = await api.GET("/v3/organizations", { params: { query: { size: 1 } } });
    setBusy(false);
    if (error) {
      setSession(null);
      setProblem(asProblem(error, response));
    }
  }

  return (
    <main id="main" class="login">
      <ProgressBar />
      <h1>keyplane console</h1>
      <ProblemBox problem={problem} />
      <form onSubmit={withPassword} aria-label="Sign in with a password">
        <h2>Sign in</h2>
        <label>
          User name
          <input name="userName" autocomplete="username" required />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="current-password" required />
        </label>
        <button type="submit" class="primary" disabled={busy}>
          Sign in
        </button>
      </form>
      <form onSubmit={withSecret} aria-label="Sign in with a key">
        <h2>Or paste a key</h2>
        <label>
          API key secret or bearer token
          <input name="secret" type="password" autocomplete="off" spellcheck={false} />
        </label>
        <p class="hint">Kept in this tab only (sessionStorage), gone when the tab closes.</p>
        <button type="submit" disabled={busy}>
          Use key
        </button>
      </form>
    </main>
  );
}
