/**
 * The signed-in credential. It lives in memory and in sessionStorage (so a
 * reload of the tab keeps it, closing the tab forgets it); never in
 * localStorage, which every tab and every later visit would share.
 */
import type { Schemas } from "../../clients/ts/src/client.ts";

/** A password login: the access token, the single-use refresh token and who logged in. */
export interface PasswordSession {
  kind: "password";
  accessToken: string;
  refreshToken: string;
  expiresAt: string;
  user: Schemas["LoginUser"];
}

/** A pasted credential: a bearer token (the root token, an access token) or an API key's secret. */
export interface PastedSession {
  kind: "token" | "apiKey";
  secret: string;
}

/** What the console sends with each request. */
export type Session = PasswordSession | PastedSession;

const storageKey = "keyplane.console.session";

let current: Session | null = read();
const listeners = new Set<() => void>();

function read(): Session | null {
  try {
    const raw = sessionStorage.getItem(storageKey);
    return raw ? (JSON.parse(raw) as Session) : null;
  } catch {
    return null;
  }
}

/** The current session, or null when signed out. */
export function session(): Session | null {
  return current;
}

/** Replaces the session (null signs out) and tells the subscribers. */
export function setSession(s: Session | null): void {
  current = s;
  if (s) sessionStorage.setItem(storageKey, JSON.stringify(s));
  else sessionStorage.removeItem(storageKey);
  for (const l of listeners) l();
}

/** Calls fn whenever the session changes; returns the unsubscribe function. */
export function onSession(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/**
 * Tells a pasted secret's kind: an API key's secret is 64 hex characters
 * (sent as x-api-key); anything else (kp_root_…, a signed access token) is a
 * bearer token.
 */
export function pastedKind(secret: string): PastedSession["kind"] {
  return /^[0-9a-f]{64}$/.test(secret) ? "apiKey" : "token";
}
