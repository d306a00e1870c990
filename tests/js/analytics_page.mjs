// Drives the creator analytics page in Debian's Chromium as a creator would, and reports what
// it shows at each step.
//   node analytics_page.mjs <origin> <login> <password> <own clip id> <clip id without data>
//                           <someone else's clip id> [folder for screenshots]
// Prints JSON: {badLogin, channel, clip, empty, other, errors, failed}; each view has the page's
// message, totals, and per figure its title, empty state, text alternative, axis labels,
// plotted series and table rows.
import { chromium } from "playwright-core";

const [origin, login, password, ownClip, emptyClip, otherClip, shots] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"],
});
const errors = [];
const failed = []; // responses of 400 and above: "<status> <path>"

function snapshot() {
  const text = (node) => (node ? node.textContent.replace(/\s+/g, " ").trim() : null);
  const figures = {};
  for (const fig of document.querySelectorAll("figure.chart")) {
    const chart = window.clipfeedAnalytics.charts[fig.dataset.chart];
    figures[fig.dataset.chart] = {
      title: text(fig.querySelector("figcaption")),
      empty: text(fig.querySelector(".empty")),
      label: fig.querySelector("[role=img]")?.getAttribute("aria-label") ?? null,
      canvas: Boolean(fig.querySelector("canvas")),
      axes: chart ? chart.axes.map((axis) => axis.label) : [],
      x: chart ? chart.data[0] : [],
      series: chart ? chart.data.slice(1) : [],
      headers: [...fig.querySelectorAll("table.data thead th")].map(text),
      rows: [...fig.querySelectorAll("table.data tbody tr")].map((tr) => [...tr.children].map(text)),
    };
  }
  return {
    state: document.querySelector("#dashboard").dataset.state ?? null,
    signinShown: !document.querySelector("#signin").hidden,
    reportShown: !document.querySelector("#report").hidden,
    message: text(document.querySelector("#message")),
    scope: text(document.querySelector("#scope")),
    period: text(document.querySelector("#period")),
    selected: document.querySelector("#clip").value,
    options: [...document.querySelectorAll("#clip option")].map((o) => o.value),
    totals: Object.fromEntries([...document.querySelectorAll("#totals [data-total]")]
      .map((item) => [item.dataset.total, text(item.querySelector("dd"))])),
    figures,
  };
}

async function settled(page) {
  await page.waitForFunction(() => {
    const state = document.querySelector("#dashboard").dataset.state;
    return state === "ready" || state === "error";
  }, null, { timeout: 15000 });
}

async function view(page, name) {
  if (shots) await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  return page.evaluate(snapshot);
}

try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("pageerror", (error) => errors.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    // Failed requests are reported below, with their URLs.
    if (message.type() === "error" && !message.text().startsWith("Failed to load resource")) {
      errors.push(`console: ${message.text()}`);
    }
  });
  page.on("response", (response) => {
    if (response.status() >= 400) failed.push(`${response.status()} ${new URL(response.url()).pathname}`);
  });
  await page.goto(`${origin}/app/analytics.html`);
  await page.waitForSelector("#signin:not([hidden])", { timeout: 15000 });

  await page.fill("input[name=login]", login);
  await page.fill("input[name=password]", `${password}-wrong`);
  await page.click("#signin button[type=submit]");
  await page.waitForFunction(() => document.querySelector("#message").textContent.length > 0, null, { timeout: 15000 });
  const badLogin = await view(page, "bad-login");

  await page.fill("input[name=password]", password);
  await page.click("#signin button[type=submit]");
  await page.waitForSelector("#dashboard:not([hidden])", { timeout: 15000 });
  await settled(page);
  const channel = await view(page, "channel");

  await page.selectOption("#clip", ownClip);
  await settled(page);
  const clip = await view(page, "clip");

  await page.selectOption("#clip", emptyClip);
  await settled(page);
  const empty = await view(page, "empty");

  // Someone else's clip, asked for by URL: the session kept in localStorage signs the page in.
  await page.goto(`${origin}/app/analytics.html?clip=${otherClip}`);
  await page.waitForSelector("#dashboard:not([hidden])", { timeout: 15000 });
  await settled(page);
  const other = await view(page, "other");

  console.log(JSON.stringify({ badLogin, channel, clip, empty, other, errors, failed }));
} finally {
  await browser.close();
}
