/**
 * The console's one API client: the generated client of clients/ts, with a
 * middleware that adds the session's credential, refreshes a password
 * session's access token before it expires, signs out on a 401, and counts
 * the calls in flight for the progress bar.
 */
import { createKeyplaneClient, type Middleware, type Problem } from "../../clients/ts/src/client.ts";
import { session, setSession, type PasswordSession } from "./session.ts";

/** The typed client every page uses. */
export const api = createKeyplaneClient({ baseUrl: location.origin });

/** A client without credentials, for login and refresh. */
const anonymous = createKeyplaneClient({ baseUrl: location.origin });

let inflight = 0;
const progressListeners = new Set<(n: number) => void>();

/** Calls fn with the number of API calls in flight whenever it changes. */
export function onProgress(fn: (n: number) => void): () => void {
  progressListeners.add(fn);
  return () => progressListeners.delete(fn);
}

function progress(delta: number): void {
  inflight += delta;
  for (const l of progressListeners) l(inflight);
}

let refreshing: Promise<PasswordSession | null> | null = null;

/** Exchanges the refresh token once for all the calls that need it at the same time. */
function refresh(s: PasswordSession): Promise<PasswordSession | null> {
  refreshing ??= (async () => {
    // A network failure reads as a refused refresh: the console signs in again.
    const { data } = await anonymous.POST("/api/auth/refresh", { body: { refreshToken: s.refreshToken } }).catch(() => ({ data: undefined }));
    const next: PasswordSession | null = data
      ? { kind: "password", accessToken: data.tokenId, refreshToken: data.refreshToken, expiresAt: data.expiresAt, user: data.user }
      : null;
    setSession(next);
    return next;
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

/** The access token is refreshed when it has less than this left. */
const refreshMarginMs = 60_000;

const credentials: Middleware = {
  async onRequest({ request }) {
    progress(1);
    let s = session();
    if (s?.kind === "password" && Date.parse(s.expiresAt) - Date.now() < refreshMarginMs) {
      s = await refresh(s);
    }
    if (s?.kind === "password") request.headers.set("Authorization", `Bearer ${s.accessToken}`);
    else if (s?.kind === "token") request.headers.set("Authorization", `Bearer ${s.secret}`);
    else if (s?.kind === "apiKey") request.headers.set("x-api-key", s.secret);
    return request;
  },
  onResponse({ response }) {
    progress(-1);
    if (response.status === 401 && session()) setSession(null);
    return response;
  },
  onError() {
    progress(-1);
  },
};
api.use(credentials);

const anonymousProgress: Middleware = {
  onRequest() {
    progress(1);
  },
  onResponse() {
    progress(-1);
  },
  onError() {
    progress(-1);
  },
};
anonymous.use(anonymousProgress);

/** Signs in with a user name and password; returns the problem when refused. */
export async function login(userName: string, password: string): Promise<Problem | null> {
  const { data, error } = await anonymous.POST("/api/auth", { body: { userName, password, deviceName: "console" } });
  if (!data) return error ?? { title: "Login failed", status: 0 };
  setSession({ kind: "password", accessToken: data.tokenId, refreshToken: data.refreshToken, expiresAt: data.expiresAt, user: data.user });
  return null;
}

/** Ends the session: a password session is revoked on the server as well. */
export async function logout(): Promise<void> {
  if (session()?.kind === "password") await api.DELETE("/api/auth");
  setSession(null);
}

/**
 * Turns an error result into a problem for display: the server's problem
 * body when there is one, else a problem naming the status.
 */
export function asProblem(error: unknown, response?: Response): Problem {
  if (error && typeof error === "object" && "title" in error) return error as Problem;
  const status = response?.status ?? 0;
  return { title: status ? `Request failed (${status})` : "Network error", status, detail: error instanceof Error ? error.message : undefined };
}
