import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { svelte } from "@sveltejs/vite-plugin-svelte";
import type { Plugin } from "vite";
import { defineConfig } from "vitest/config";
import { VitePWA } from "vite-plugin-pwa";

import { feedBudget } from "./scripts/feed-budget.ts";

const here = dirname(fileURLToPath(import.meta.url));
// The build lands inside the Python package, which ships it (pyproject package-data).
const outDir = join(here, "..", "src", "clipfeed", "webapp", "dist");
// Server paths the app must never swallow (the service worker's navigation fallback).
const SERVER_PATHS = [/^\/v1\//, /^\/media\//, /^\/share\//, /^\/docs/, /^\/redoc/, /^\/openapi\.json/,
  /^\/healthz/, /^\/metrics/, /^\/app\//];

/** Swagger UI and ReDoc from their npm packages, so /docs and /redoc work offline. */
function apiDocsAssets(): Plugin {
  const files: [string, string][] = [
    ["swagger-ui-dist/swagger-ui-bundle.js", "swagger-ui-bundle.js"],
    ["swagger-ui-dist/swagger-ui.css", "swagger-ui.css"],
    ["swagger-ui-dist/favicon-32x32.png", "favicon-32x32.png"],
    ["swagger-ui-dist/LICENSE", "swagger-ui.LICENSE.txt"],
    ["redoc/bundles/redoc.standalone.js", "redoc.standalone.js"],
    ["redoc/bundles/redoc.standalone.js.LICENSE.txt", "redoc.standalone.js.LICENSE.txt"],
    ["redoc/LICENSE", "redoc.LICENSE.txt"],
  ];
  return {
    name: "clipfeed-api-docs-assets",
    apply: "build",
    closeBundle() {
      const target = join(outDir, "api-docs");
      mkdirSync(target, { recursive: true });
      for (const [from, to] of files) copyFileSync(join(here, "node_modules", from), join(target, to));
    },
  };
}

// The feed route's modules: they make one chunk, whoever else imports them. A component shared
// only by the consoles belongs in lib/components/console/, not common/ (which is in here).
const FEED_MODULES = new RegExp("(/src/(main\\.ts|App\\.svelte|lib/(api|feed|player)/|lib/i18n/(index\\.svelte|translate|en)\\.ts|" +
  "lib/components/(common/|feed/(?!ShareSheet))|lib/[a-z]+(\\.svelte)?\\.ts)|/node_modules/(svelte|clsx|esm-env|openapi-fetch|hls\\.js)/)");

export default defineConfig({
  plugins: [
    svelte(),
    VitePWA({
      registerType: "autoUpdate",
      injectRegister: null,
      includeAssets: ["icon.svg"],
      manifest: {
        name: "Clipfeed",
        short_name: "Clipfeed",
        description: "Short videos from your community",
        theme_color: "#000000",
        background_color: "#000000",
        display: "standalone",
        start_url: "/",
        icons: [
          { src: "/icon.svg", sizes: "any", type: "image/svg+xml", purpose: "any" },
          { src: "/icon-192.png", sizes: "192x192", type: "image/png" },
          { src: "/icon-512.png", sizes: "512x512", type: "image/png" },
        ],
      },
      workbox: {
        // The shell only: media and the API always come from the network.
        globPatterns: ["**/*.{js,css,html,svg,png,webmanifest}"],
        globIgnores: ["api-docs/**"],
        navigateFallback: "/index.html",
        navigateFallbackDenylist: SERVER_PATHS,
      },
    }),
    apiDocsAssets(),
    feedBudget(150), // kB of JS gzipped for the feed route: the build fails above it
  ],
  // Every browser the app supports (ES2022) knows <link rel=modulepreload>: no polyfill on the feed route.
  build: {
    outDir, emptyOutDir: true, target: "es2022", modulePreload: { polyfill: false },
    // What the feed route runs goes in one chunk (the entry), not in a dozen small shared ones:
    // fewer requests, and gzip does better on one file.
    rolldownOptions: { output: { advancedChunks: { groups: [{ name: "feed", test: FEED_MODULES }] } } },
  },
  server: { proxy: { "/v1": "http://127.0.0.1:8000", "/media": "http://127.0.0.1:8000" } },
  test: { include: ["src/**/*.test.ts", "scripts/**/*.test.ts"], environment: "node" },
});
