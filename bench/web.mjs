// The web app against a bare hls.js page in Debian's Chromium (driven by bench/web.py, which
// starts the server and publishes the clips).
//   node bench/web.mjs '{"url": ..., "clips": [...], "swipes": 30, "runs": 5, "web": "<web dir>"}'
// Prints one JSON line of timings in milliseconds.
//
// "First frame" is the time from navigation start until a <video> of the page has presented a
// frame (playing, currentTime past zero). "Swipe to play" is the time from the key press (the
// app) or the switch (the bare page) until the next clip presents a frame. The bare page fetches
// the next clip's poster, start playlist, init and first segment into the HTTP cache before the
// switch and starts hls.js on it: what a player that only prefetches costs. The app goes
// further (the next clip waits in its own player, buffered), so its figure is what a viewer sees.
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const setup = JSON.parse(process.argv[2]);
const require = createRequire(join(process.cwd(), "tests", "js", "package.json"));
const { chromium } = require("playwright-core");
const hlsSource = readFileSync(createRequire(join(setup.web, "package.json")).resolve("hls.js/dist/hls.light.min.js"));

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--autoplay-policy=no-user-gesture-required"],
});

// In every page: the time the first frame of any video was presented, and a helper that waits
// for a video other than the one given to present a frame.
const PROBE = `
  window.__firstFrame = null;
  (function watch() {
    for (const v of document.querySelectorAll("video")) {
      if (!v.paused && v.currentTime > 0 && v.readyState >= 2) { window.__firstFrame = performance.now(); return; }
    }
    requestAnimationFrame(watch);
  })();
  window.__playing = () => [...document.querySelectorAll("video")].find((v) => !v.paused && v.currentTime > 0);
  window.__nextFrame = (previous) => new Promise((resolve) => {
    (function poll() {
      const now = [...document.querySelectorAll("video")].find(
        (v) => v !== previous && !v.paused && v.currentTime > 0 && v.readyState >= 2);
      if (now) resolve(performance.now()); else requestAnimationFrame(poll);
    })();
  });
`;

const BARE = `<!doctype html><html><head><meta charset="utf-8"><title>bare</title>
<style>body{margin:0;background:#000}video{width:390px;height:844px;object-fit:cover;display:block}</style>
</head><body><video id="a" muted playsinline loop></video><video id="b" muted playsinline loop hidden></video>
<script src="/__bench/hls.js"></script>
<script>
  const infos = JSON.parse(decodeURIComponent(location.hash.slice(1)));
  function attach(video, info) {
    const hls = new Hls({ maxBufferLength: 10, backBufferLength: 10 });
    hls.loadSource(info.hls_url);
    hls.attachMedia(video);
    video.play().catch(() => {});
    return hls;
  }
  window.bench = {
    current: 0, videos: [document.getElementById("a"), document.getElementById("b")], players: [null, null],
    start() { this.players[0] = attach(this.videos[0], infos[0]); },
    prefetch(index) { return Promise.all(infos[index].prefetch_urls.map((u) => fetch(u).then((r) => r.arrayBuffer()))); },
    swipe(index) {
      const from = this.current % 2, to = (this.current + 1) % 2;
      const t0 = performance.now();
      this.players[from]?.destroy();
      this.videos[from].hidden = true;
      this.videos[to].hidden = false;
      this.players[to] = attach(this.videos[to], infos[index]);
      this.current += 1;
      return t0;
    },
  };
  bench.start();
</script></body></html>`;

async function page(ctx) {
  const p = await ctx.newPage();
  await p.addInitScript(PROBE);
  await p.route("**/__bench/hls.js", (route) => route.fulfill({ body: hlsSource, contentType: "text/javascript" }));
  await p.route("**/__bench/bare.html", (route) => route.fulfill({ body: BARE, contentType: "text/html" }));
  return p;
}

async function firstFrame(p, url) {
  await p.goto("about:blank");  // a real load each time, even where only the hash would differ
  await p.goto(url, { waitUntil: "commit" });
  await p.waitForFunction(() => window.__firstFrame !== null, null, { timeout: 30000 });
  return p.evaluate(() => window.__firstFrame);
}

function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50: at(0.5), p95: at(0.95), n: sorted.length };
}

const infos = await (async () => {
  const found = [];
  for (const id of setup.clips) {
    const response = await fetch(`${setup.url}/v1/clips/${id}/playback`);
    found.push(await response.json());
  }
  return found;
})();
const bareUrl = `${setup.url}/__bench/bare.html#${encodeURIComponent(JSON.stringify(infos))}`;
const appUrl = `${setup.url}/?clip=${setup.clips[0]}`;
const viewport = { width: 390, height: 844 };
const results = { bare: { cold: [], warm: [], swipe: [] }, app: { cold: [], warm: [], swipe: [] }, appScripts: [] };

for (const [name, url] of [["bare", bareUrl], ["app", appUrl]]) {
  for (let run = 0; run < setup.runs; run += 1) {
    const ctx = await browser.newContext({ viewport, serviceWorkers: "block" });  // a cold HTTP cache
    const p = await page(ctx);
    if (name === "app" && run === 0) {
      p.on("response", (r) => { if (r.request().resourceType() === "script") results.appScripts.push(r.url()); });
    }
    results[name].cold.push(await firstFrame(p, url));
    results[name].warm.push(await firstFrame(p, url));  // same context: the cache is warm
    await ctx.close();
  }
}

// Swipes: the app moves with the arrow key and prefetches by itself; the bare page fetches the
// same prefetch URLs before each switch.
{
  const ctx = await browser.newContext({ viewport, serviceWorkers: "block" });
  const p = await page(ctx);
  await firstFrame(p, bareUrl);
  for (let i = 1; i <= setup.swipes; i += 1) {
    const index = i % infos.length;
    await p.evaluate((n) => window.bench.prefetch(n), index);
    await p.waitForTimeout(400);  // a viewer watches a while before swiping
    results.bare.swipe.push(await p.evaluate(async (n) => {
      const previous = window.__playing();
      const t0 = window.bench.swipe(n);
      return (await window.__nextFrame(previous)) - t0;
    }, index));
  }
  await ctx.close();
}
{
  const ctx = await browser.newContext({ viewport, serviceWorkers: "block" });
  const p = await page(ctx);
  await firstFrame(p, appUrl);
  for (let i = 1; i <= setup.swipes; i += 1) {
    await p.waitForTimeout(1000);  // the app starts its prefetch 600 ms after a clip starts
    results.app.swipe.push(await p.evaluate(async () => {
      const previous = window.__playing();
      const t0 = performance.now();
      document.body.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowDown", bubbles: true }));
      return (await window.__nextFrame(previous)) - t0;
    }));
  }
  await ctx.close();
}
await browser.close();

const out = { appScripts: [...new Set(results.appScripts)] };
for (const name of ["bare", "app"]) {
  out[name] = Object.fromEntries(["cold", "warm", "swipe"].map((k) => [k, stats(results[name][k])]));
}
console.log(JSON.stringify(out));
