// Builds the console into server/consoleui/dist, which is committed and
// embedded into the binary (go:embed). The output must be the same bytes on
// every build of the same sources: no timestamps, hashed file names, no
// source maps.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const outDir = fileURLToPath(new URL("../server/consoleui/dist", import.meta.url));

export default defineConfig({
  base: "/console/",
  root: fileURLToPath(new URL(".", import.meta.url)),
  publicDir: false,
  logLevel: "warn",
  oxc: {
    jsx: { runtime: "automatic", importSource: "preact" },
  },
  // `npm run dev`: the console from source with reloads, the API of a
  // keyplane on 127.0.0.1:8080 (`make run`) behind the same origin.
  server: {
    host: "127.0.0.1",
    proxy: { "^/(?!console)": { target: "http://127.0.0.1:8080" } },
  },
  build: {
    outDir,
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    // The preload polyfill would be an inline script, which the CSP forbids.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    cssCodeSplit: false,
    reportCompressedSize: false,
  },
});
