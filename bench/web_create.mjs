// Driven by bench/web_create.py: posts one file from /create in Debian's Chromium, on loopback or
// with DevTools throttling the uplink, with or without client-side compression, and reports
// when each step happened (ms since the file was picked).
//   node web_create.mjs '{"url", "session": {access, refresh, user}, "file", "uplink": bytes/s | -1,
//                          "compress": true | false, "post": true | false, "until": "uploaded" | "ready"}'
import { createRequire } from "node:module";

const require = createRequire(new URL("../tests/js/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const setup = JSON.parse(process.argv[2]);
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"] });
try {
  const ctx = await browser.newContext({ viewport: { width: 390, height: 844 }, serviceWorkers: "block", locale: "en-US" });
  await ctx.addInitScript((saved) => localStorage.setItem("clipfeed.session", JSON.stringify(saved)), setup.session);
  const page = await ctx.newPage();
  const console_ = [];
  page.on("console", (message) => message.type() === "warning" && console_.push(message.text()));
  const cdp = await ctx.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: setup.uplink > 0 ? 20 : 0,
    downloadThroughput: -1, uploadThroughput: setup.uplink });
  await page.goto(`${setup.url}/create`);
  await page.getByRole("button", { name: "Upload a file" }).click();
  const picked = Date.now();
  await page.locator('input[type="file"]').setInputFiles(setup.file);
  const caption = page.getByLabel("Caption");
  if (!setup.compress) {
    // The creator sends the original as soon as the compress step offers it.
    const skip = page.getByRole("button", { name: "Send the original" });
    await skip.or(caption).first().waitFor({ timeout: 120_000 });
    if (await skip.isVisible()) await skip.click();
  }
  // Compression (or not) ends in the editor; the creator goes straight on to the caption.
  await page.locator(".editor").first().waitFor({ timeout: 1_200_000 });
  const form = Date.now() - picked;
  await page.getByRole("button", { name: "Next" }).click();
  await caption.waitFor({ timeout: 30_000 });
  const note = (await page.getByTestId("compress-note").count()) ? await page.getByTestId("compress-note").textContent() : null;
  const result = { form, note };
  if (setup.post) {
    await caption.fill("bench: web upload");
    await page.getByRole("button", { name: "Post" }).click();
    result.post = Date.now() - picked;
    result.total = await page.evaluate(() => document.querySelector('[data-testid="upload-sent"]')?.textContent?.split(" of ")[1] ?? null);
    await page.waitForFunction(() => document.querySelector("article.upload")?.dataset.phase === "processing", null,
      { timeout: 3_600_000, polling: 200 });
    result.uploaded = Date.now() - picked;
    if (setup.until === "ready") {
      await page.waitForFunction(() => ["ready", "rejected", "failed"].includes(document.querySelector("article.upload")?.dataset.status),
        null, { timeout: 3_600_000, polling: 250 });
      result.ready = Date.now() - picked;
      result.status = await page.locator("article.upload").getAttribute("data-status");
    }
  }
  result.warnings = console_;
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
