// What every journey file shares: the run's setup (argv[2], JSON), Debian's Chromium, contexts
// whose pages record their script errors, screenshots into the artifacts folder, axe-core's
// serious findings, and the runner that records what each journey saw. A journey file ends with
// `await finish()`, which prints one JSON line: {journey: {ok, error?, seconds, ...}}.
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
export const setup = JSON.parse(process.argv[2]);
export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1440, height: 900 };
export const results = {};
mkdirSync(setup.artifacts, { recursive: true });

export const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium", // Debian's, never a downloaded one
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", ...(setup.chromiumArgs ?? [])],
});

/** A fresh context (no shared storage, service workers off) and its page. */
export async function context(viewport = PHONE, options = {}) {
  const ctx = await browser.newContext({ viewport, serviceWorkers: "block", locale: "en-US", ...options });
  const page = await ctx.newPage();
  page.errors = [];
  page.on("pageerror", (error) => page.errors.push(error.message));
  return { ctx, page };
}

export async function shot(page, name, options = {}) {
  await page.screenshot({ path: join(setup.artifacts, `${name}.png`), ...options });
}

/** axe-core's serious and critical violations on the page as it is now. */
export async function axe(page) {
  await page.addScriptTag({ path: require.resolve("axe-core/axe.min.js") });
  const found = await page.evaluate(async () => (await window.axe.run(document)).violations);
  return found.filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) }));
}

/** Signs in through the app's own dialog, from the page at `path`. */
export async function signIn(page, account, path) {
  await page.goto(`${setup.url}${path}`);
  await page.getByRole("button", { name: "Sign in" }).first().click();
  const dialog = page.getByRole("dialog", { name: "Sign in" });
  await dialog.getByLabel("Handle or e-mail").fill(account.handle);
  await dialog.getByLabel("Password").fill(account.password);
  await dialog.getByRole("button", { name: "Sign in" }).click();
  await dialog.waitFor({ state: "hidden" });
}

/** A request from inside the page with the signed-in person's token, as the app would send it. */
export async function asSignedIn(page, method, path, body) {
  return page.evaluate(async ([method, path, body]) => {
    const saved = JSON.parse(localStorage.getItem("clipfeed.session") ?? "null");
    const response = await fetch(path, { method, headers: { Authorization: `Bearer ${saved?.access}`,
      ...(body ? { "Content-Type": "application/json" } : {}) }, body: body ? JSON.stringify(body) : undefined });
    return { status: response.status, type: response.headers.get("content-type") };
  }, [method, path, body]);
}

/** Runs one journey unless the setup names others; a failure is recorded, never thrown. */
export async function journey(name, body) {
  if (setup.journeys.length && !setup.journeys.includes(name)) return;
  const started = Date.now();
  try {
    results[name] = { ok: true, ...(await body()) };
  } catch (error) {
    results[name] = { ok: false, error: String(error && error.stack || error) };
  }
  results[name].seconds = (Date.now() - started) / 1000;
}

export async function finish() {
  await browser.close();
  console.log(JSON.stringify(results));
}
