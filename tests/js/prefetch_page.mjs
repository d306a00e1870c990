// Opens the player page in Debian's Chromium and reports the page's network requests.
//   node prefetch_page.mjs <page url> <milliseconds to watch after the first clip plays>
// Prints JSON: {playing, requests: [{url, status, fromCache}]}
import { chromium } from "playwright-core";

const [pageUrl, watchMs] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required"],
});
const requests = [];
try {
  const page = await browser.newPage();
  // The DevTools protocol says which responses came from the browser's cache.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Network.enable");
  const byId = new Map();
  cdp.on("Network.requestWillBeSent", (event) => {
    if (!byId.has(event.requestId)) {
      const entry = { url: event.request.url, status: 0, fromCache: false };
      byId.set(event.requestId, entry);
      requests.push(entry);
    }
  });
  cdp.on("Network.requestServedFromCache", (event) => {
    if (byId.has(event.requestId)) byId.get(event.requestId).fromCache = true;
  });
  cdp.on("Network.responseReceived", (event) => {
    const entry = byId.get(event.requestId);
    if (entry) {
      entry.status = event.response.status;
      entry.fromCache = entry.fromCache || event.response.fromDiskCache || false;
    }
  });
  page.on("pageerror", (error) => console.error("page error:", error.message));
  await page.goto(pageUrl);
  const playing = await page.waitForFunction(() => {
    const video = document.querySelector("video");
    return video && video.readyState >= 2 && video.currentTime > 0;
  }, null, { timeout: 20000 }).then(() => true, () => false);
  await page.waitForTimeout(Number(watchMs));
  const before = requests.length;
  await page.click("#next");
  const second = await page.waitForFunction(() => {
    const video = document.querySelector("video");
    return window.clipfeedPlayer.index === 1 && video.readyState >= 2 && video.currentTime > 0;
  }, null, { timeout: 20000 }).then(() => true, () => false);
  await page.waitForTimeout(500);
  console.log(JSON.stringify({ playing, second, requests, afterNext: requests.slice(before) }));
} finally {
  await browser.close();
}
