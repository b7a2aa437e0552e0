/**
 * A small path router over the History API: the console's pages are paths
 * under /console/, which the server answers with the page (its SPA fallback),
 * so a reload or a shared link opens the same page.
 */
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useState } from "preact/hooks";

/** Where the console is served. */
export const base = "/console";

const listeners = new Set<() => void>();
addEventListener("popstate", () => listeners.forEach((l) => l()));

/** Goes to a console path (relative to /console), adding a history entry. */
export function navigate(to: string): void {
  history.pushState(null, "", base + to);
  listeners.forEach((l) => l());
  document.getElementById("main")?.focus();
}

/** The current path relative to /console ("/" for the start page). */
export function currentPath(): string {
  const p = location.pathname.startsWith(base) ? location.pathname.slice(base.length) : location.pathname;
  return p === "" ? "/" : p;
}

/** The current path and query; the component re-renders on navigation. */
export function useLocation(): { path: string; query: URLSearchParams } {
  const [, tick] = useState(0);
  useEffect(() => {
    const l = () => tick((n) => n + 1);
    listeners.add(l);
    return () => void listeners.delete(l);
  }, []);
  return { path: currentPath(), query: new URLSearchParams(location.search) };
}

/** Matches a path against a pattern with :name segments; returns the names' values. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const ps = pattern.split("/");
  const xs = path.replace(/\/$/, "").split("/");
  if (ps.length !== xs.length) return null;
  const out: Record<string, string> = {};
  for (let i = 0; i < ps.length; i++) {
    const p = ps[i]!;
    const x = xs[i]!;
    if (p.startsWith(":")) out[p.slice(1)] = decodeURIComponent(x);
    else if (p !== x) return null;
  }
  return out;
}

/** A link to a console path that navigates without reloading. */
export function Link(props: {
  to: string;
  children: ComponentChildren;
  class?: string;
  "data-testid"?: string;
  "aria-current"?: "page" | undefined;
}): JSX.Element {
  const { to, children, ...rest } = props;
  return (
    <a
      {...rest}
      href={base + to}
      onClick={(e) => {
        if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}
