// Driven by bench/web_create.py: posts one file from /create in Debian's Chromium, on loopback or
// with DevTools throttling the uplink, with or without client-side compression, and reports
// when each step happened (ms since the file was picked). A compressed file goes up while it is
// encoded: "sending" is when its first PATCH went out, "encoded" when the encoder finished, and
// "sentAtPost" how many bytes the server had when the creator pressed Post.
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
  // tus PATCHes: when the first went out, and the server's offset after each (with its time).
  const patches = { first: null, acknowledged: [] };
  page.on("request", (request) => {
    if (request.method() === "PATCH" && request.url().includes("/v1/uploads/")) patches.first ??= Date.now();
  });
  page.on("requestfinished", async (request) => {
    if (request.method() !== "PATCH" || !request.url().includes("/v1/uploads/")) return;
    const offset = (await request.response())?.headers()["upload-offset"];
    if (offset) patches.acknowledged.push({ at: Date.now(), offset: Number(offset) });
  });
  await page.goto(`${setup.url}/create`);
  await page.getByRole("button", { name: "Upload a file" }).click();
  const picked = Date.now();
  await page.locator('input[type="file"]').setInputFiles(setup.file);
  const caption = page.getByLabel("Caption");
  if (!setup.compress) {
    // The creator sends the original as soon as the compress step offers it (on a quick uplink
    // it is not offered: the editor opens at once).
    const skip = page.getByRole("button", { name: "Send the original" });
    await skip.or(page.locator(".editor").first()).first().waitFor({ timeout: 120_000 });
    if (await skip.isVisible()) await skip.click();
  }
  // Compression (or not) ends in the editor; the creator goes straight on to the caption.
  await page.locator(".editor").first().waitFor({ timeout: 1_200_000 });
  const form = Date.now() - picked;
  // The compress step's note shows above the editor.
  const note = (await page.getByTestId("compress-note").count()) ? await page.getByTestId("compress-note").textContent() : null;
  await page.getByRole("button", { name: "Next" }).click();
  await caption.waitFor({ timeout: 30_000 });
  const encoded = await page.evaluate(() => {
    const mark = performance.getEntriesByName("clipfeed:encoded")[0];
    return mark ? performance.timeOrigin + mark.startTime : null;
  });
  const result = { form, note, encoded: encoded === null ? null : Math.round(encoded - picked) };
  if (setup.post) {
    await caption.fill("bench: web upload");
    await page.getByRole("button", { name: "Post" }).click();
    result.post = Date.now() - picked;
    result.sentAtPost = Math.max(0, ...patches.acknowledged.filter((ack) => ack.at - picked <= result.post).map((ack) => ack.offset));
    result.total = await page.evaluate(() => document.querySelector('[data-testid="upload-sent"]')?.textContent?.split(" of ")[1] ?? null);
    await page.waitForFunction(() => document.querySelector("article.upload")?.dataset.phase === "processing", null,
      { timeout: 3_600_000, polling: 200 });
    result.uploaded = Date.now() - picked;
    result.sending = patches.first === null ? null : patches.first - picked;
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
