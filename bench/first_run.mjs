// The first minute of `clipfeed demo` as a newcomer lives it (driven by bench/first_run.py, which
// starts the demo and runs this as soon as the URL is printed): the app is opened at once and
// never reloaded; the page records when its shell shows and when a clip first plays.
//   node bench/first_run.mjs '{"url": ..., "timeout_s": 600}'
// Prints one JSON line: epoch milliseconds of navigation start, shell shown and first frame.
import { createRequire } from "node:module";
import { join } from "node:path";

const setup = JSON.parse(process.argv[2]);
const require = createRequire(join(process.cwd(), "tests", "js", "package.json"));
const { chromium } = require("playwright-core");

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync"],
});
const context = await browser.newContext({ viewport: { width: 390, height: 844 }, serviceWorkers: "block" });
const page = await context.newPage();
let navigations = 0;
page.on("framenavigated", (frame) => { if (frame === page.mainFrame()) navigations += 1; });
const started = Date.now();
await page.goto(setup.url);
await page.locator("section.feed").waitFor({ timeout: 60_000 });
const shell = Date.now();
await page.waitForFunction(() => {
  const video = document.querySelector("article[data-clip-id] video");
  return video && video.videoWidth > 0 && video.currentTime > 0.2;
}, null, { timeout: setup.timeout_s * 1000, polling: 100 });
const playing = Date.now();
await browser.close();
console.log(JSON.stringify({ started, shell, playing, navigations }));
