// The creator studio and the moderation console in Debian's Chromium against a real server
// (started by tests/web/conftest.py, seeded by tests/web/test_studio_journeys.py). Each journey
// reports what it saw; pytest asserts on it.
//   node studio_journeys.mjs '{"url": ..., "artifacts": dir, "creator": {...}, "moderator": {...},
//                              "viewer": {...}, "clips": {...}, "journeys": [...]}'
// Prints one JSON line: {journey: {ok, error?, ...what it measured}}.
import { asSignedIn, axe, context, DESKTOP, finish, journey, PHONE, setup, shot as save, signIn } from "./harness.mjs";

const shot = (page, name) => save(page, name, { fullPage: true });

function row(page, clipId) {
  return page.locator(`li[data-clip="${clipId}"]`);
}

// 1. A creator opens the studio on a phone: every clip with its state, the reason of a
//    rejection and its quality flags, figures; edits a caption, visibility and comments; deletes
//    a clip after confirming; then the same page at desktop size.
await journey("studio_clips", async () => {
  const { ctx, page } = await context(PHONE);
  await signIn(page, setup.creator, "/studio");
  await row(page, setup.clips.edit).waitFor();
  const rows = await page.locator("ul.clips > li[data-clip]").evaluateAll((items) => items.map((li) => ({
    id: li.dataset.clip, status: li.dataset.status, badge: li.querySelector(".badge")?.textContent.trim(),
    reason: li.querySelector(".reason")?.textContent.trim() ?? null,
    flags: [...li.querySelectorAll(".flags li")].map((f) => f.textContent.trim()),
    views: li.querySelector('[data-stat="views"]')?.textContent.trim(),
    likes: li.querySelector('[data-stat="likes"]')?.textContent.trim(),
    avgWatch: li.querySelector('[data-stat="avg-watch"]')?.textContent.trim(),
  })));
  const violations = await axe(page);
  await shot(page, "studio-390x844");

  await row(page, setup.clips.edit).getByRole("button", { name: /^Edit clip/ }).click();
  const editor = page.getByRole("dialog", { name: "Edit clip" });
  await editor.getByLabel("Caption").fill("Harbour at dawn, edited in the studio #sea");
  await editor.getByLabel("Who can comment").selectOption("followers");
  const editorViolations = await axe(page);
  await shot(page, "studio-edit-390x844");
  await editor.getByRole("button", { name: "Save" }).click();
  await editor.waitFor({ state: "hidden" });
  const caption = (await row(page, setup.clips.edit).locator(".caption").textContent()).trim();

  await row(page, setup.clips.remove).getByRole("button", { name: /^Delete clip/ }).click();
  const confirm = page.getByRole("dialog", { name: "Delete this clip?" });
  await confirm.getByRole("button", { name: "Cancel" }).click();
  await confirm.waitFor({ state: "hidden" });
  const keptAfterCancel = await row(page, setup.clips.remove).count();
  await row(page, setup.clips.remove).getByRole("button", { name: /^Delete clip/ }).click();
  await confirm.getByRole("button", { name: "Delete for good" }).click();
  await row(page, setup.clips.remove).waitFor({ state: "detached" });

  await page.setViewportSize(DESKTOP);
  await shot(page, "studio-1440x900");
  await ctx.close();
  return { rows, caption, keptAfterCancel, violations, editorViolations, errors: page.errors };
});

// 2. The analytics page: totals and SVG charts for the whole channel, then one clip with its
//    retention curve; a shorter period.
await journey("studio_analytics", async () => {
  const { ctx, page } = await context(PHONE);
  await signIn(page, setup.creator, "/studio/analytics");
  await page.locator('figure[data-chart="views"] svg').waitFor();
  const read = () => page.evaluate(() => ({
    period: document.querySelector('[data-testid="period"]')?.textContent.trim(),
    totals: Object.fromEntries([...document.querySelectorAll("[data-total]")].map((d) => [d.dataset.total, d.textContent.trim()])),
    charts: Object.fromEntries([...document.querySelectorAll("figure[data-chart]")].map((f) => [f.dataset.chart, {
      svg: Boolean(f.querySelector("svg path.line, svg rect")), label: f.querySelector("svg")?.getAttribute("aria-label") ?? null,
      empty: f.querySelector(".empty")?.textContent.trim() ?? null,
      rows: [...f.querySelectorAll("tbody tr")].map((tr) => [...tr.children].map((td) => td.textContent.trim())),
    }])),
  }));
  const channel = await read();
  const violations = await axe(page);
  await shot(page, "analytics-390x844");
  await page.getByLabel("Clips", { exact: true }).selectOption(setup.clips.edit);
  await page.locator('figure[data-chart="retention"] svg').waitFor();
  const clip = await read();
  await page.getByRole("button", { name: "7 days" }).click();
  await page.waitForFunction((before) => document.querySelector('[data-testid="period"]')?.textContent.trim() !== before,
    clip.period);
  const week = await read();
  await page.setViewportSize(DESKTOP);
  await shot(page, "analytics-1440x900");
  let other = null;
  if (setup.clips.others) {
    // Someone else's clip, asked for by its address: refused, and the page says why.
    await page.setViewportSize(PHONE);
    await page.goto(`${setup.url}/studio/analytics?clip=${setup.clips.others}`);
    other = (await page.getByRole("alert").textContent()).trim();
  }
  await ctx.close();
  return { channel, clip, other, week: { period: week.period, views: week.totals.views }, violations,
    errors: page.errors };
});

// 3. A moderator works the queue on a phone: the reported clip plays (signed for review), the
//    reporter's note shows; R without a reason asks for one; with a reason R rejects it; its
//    fingerprint goes on the blocklist first; the audit list names the moderator.
await journey("moderator_rejects", async () => {
  const { ctx, page } = await context(PHONE);
  await signIn(page, setup.moderator, "/mod");
  await page.getByLabel("Show", { exact: true }).selectOption("clip");
  const item = page.locator(".queue button.case").first();
  await item.waitFor();
  const review = page.locator("article.review");
  await review.getByRole("heading", { name: `Clip by @${setup.creator.handle}` }).waitFor();
  const reports = await review.locator(".reports li").allTextContents();
  await page.waitForFunction(() => {
    const video = document.querySelector('[data-testid="review-video"]');
    return video && video.currentTime > 0.2 && video.videoWidth > 0;
  }, null, { timeout: 20000 });
  const violations = await axe(page);
  await shot(page, "mod-queue-390x844");
  await page.setViewportSize(DESKTOP);
  await shot(page, "mod-queue-1440x900");
  await page.setViewportSize(PHONE);

  await page.locator("h1").click(); // the focus out of any field: the keys are the console's
  await page.keyboard.press("r");
  const asked = (await review.getByRole("alert").textContent()).trim();
  await review.getByLabel(/^Reason/).fill("Spam: sells followers");
  await review.getByRole("button", { name: "Add its fingerprint to the blocklist" }).click();
  await page.getByText("Added to the blocklist.").waitFor();
  await page.locator("h1").click();
  const decidedCase = `.queue button.case[data-case="${setup.caseId}"]`;
  const listedBefore = await page.locator(decidedCase).count();
  const decided = page.waitForResponse((r) => r.url().includes("/reject") && r.request().method() === "POST");
  await page.keyboard.press("r");
  const rejectStatus = (await decided).status();
  await page.getByText("Rejected.").first().waitFor();
  // The decided case leaves the queue. (Other cases may come meanwhile: the blocklist entry
  // just added is checked against clips in the background.)
  await page.waitForFunction((s) => document.querySelectorAll(s).length === 0, decidedCase,
    { timeout: 15000 }).catch(() => {});
  const queueAfter = await page.locator(decidedCase).count();

  await page.getByRole("link", { name: "Blocklist" }).click();
  await page.locator("ul.entries li").first().waitFor();
  const blocklist = await page.locator("ul.entries li").allTextContents();
  const blocklistViolations = await axe(page);
  // Suspending an account and lifting it again, each with its reason.
  await page.getByRole("link", { name: "Accounts" }).click();
  const accounts = page.getByRole("form", { name: "Suspend or reinstate an account" });
  await accounts.getByLabel("Handle or ID").fill(setup.viewer.handle);
  await accounts.getByLabel("Reason").fill("Mass reporting");
  await accounts.getByRole("button", { name: "Suspend" }).click();
  const suspended = (await page.getByText(`@${setup.viewer.handle} is suspended.`).textContent()).trim();
  await accounts.getByLabel("Handle or ID").fill(`@${setup.viewer.handle}`);
  await accounts.getByLabel("Reason").fill("Appeal accepted");
  await accounts.getByRole("button", { name: "Lift suspension" }).click();
  const reinstated = (await page.getByText(`@${setup.viewer.handle} can sign in again.`).textContent()).trim();
  const accountsViolations = await axe(page);
  await page.getByRole("link", { name: "Audit" }).click();
  await page.locator("tbody tr").first().waitFor();
  const audit = await page.locator("tbody tr").evaluateAll((rows) => rows.map((tr) => [...tr.children].map((td) => td.textContent.trim())));
  const auditViolations = await axe(page);
  await shot(page, "mod-audit-390x844");

  // The clip has left the feed: no new viewer is served it any more.
  let inFeed = true;
  const deadline = Date.now() + 30000;
  while (inFeed && Date.now() < deadline) {
    const feed = await page.evaluate(async () => (await fetch(`/v1/feed?limit=50`,
      { headers: { "X-Device-ID": `after-reject-${Math.random().toString(36).slice(2)}` } })).json());
    inFeed = feed.items.some((entry) => entry.clip.id === setup.clips.reported);
    if (inFeed) await page.waitForTimeout(500);
  }
  await ctx.close();
  return { reports, asked, rejectStatus, listedBefore, queueAfter, blocklist, audit, inFeed, suspended, reinstated,
    violations: [...violations, ...blocklistViolations, ...accountsViolations, ...auditViolations],
    errors: page.errors };
});

// 4. Someone who is not a moderator: the console says so and asks nothing of the API; the
//    API refuses them (403 problem+json) on every moderation route.
await journey("not_a_moderator", async () => {
  const { ctx, page } = await context(PHONE);
  const asked = [];
  page.on("request", (request) => {
    if (new URL(request.url()).pathname.startsWith("/v1/moderation")) asked.push(request.url());
  });
  await signIn(page, setup.viewer, "/mod");
  const denied = (await page.getByRole("alert").filter({ hasText: "moderators" }).textContent()).trim();
  const tabs = await page.getByRole("link", { name: "Review queue" }).count();
  const violations = await axe(page);
  await shot(page, "mod-denied-390x844");
  const uiRequests = asked.length;
  const api = {};
  for (const [method, path, body] of [
    ["GET", "/v1/moderation/queue"], ["GET", `/v1/moderation/cases/${setup.caseId}`],
    ["POST", `/v1/moderation/cases/${setup.caseId}/approve`, { reason: "" }],
    ["POST", `/v1/moderation/cases/${setup.caseId}/reject`, { reason: "x" }],
    ["GET", "/v1/moderation/audit"], ["GET", "/v1/moderation/blocklist"],
    ["POST", "/v1/moderation/blocklist", { clip_id: setup.clips.edit, reason: "x" }],
    ["POST", `/v1/moderation/users/@${setup.creator.handle}/suspend`, { reason: "x" }],
  ]) {
    api[`${method} ${path}`] = await asSignedIn(page, method, path, body);
  }
  await ctx.close();
  return { denied, tabs, uiRequests, api, violations, errors: page.errors };
});

await finish();
