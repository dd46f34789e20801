// The console is served by the gateway under /console/ from files embedded in the binary;
// every asset is bundled (no CDN), so it works offline. `npm run dev` forwards API calls to a
// running server (DALSTON_URL, default http://127.0.0.1:8000).
import { defineConfig } from "vite";

const server = process.env.DALSTON_URL ?? "http://127.0.0.1:8000";

export default defineConfig({
  base: "/console/",
  build: {
    target: "es2022",
    assetsInlineLimit: 0,
    sourcemap: false,
  },
  server: {
    proxy: Object.fromEntries(["/v1", "/auth", "/openapi.json"].map((path) => [path, server])),
  },
});
