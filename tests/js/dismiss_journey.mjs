// "See less" in the web app, in Debian's Chromium against the shared server of
// tests/web/conftest.py (its seven clips are all @maker's): a clip marked Not interested leaves
// the queue and Undo brings it back; @maker hidden, none of their clips is left in it; Settings
// lists them under Hidden creators until Show again.
//   node dismiss_journey.mjs '{"url": ..., "clips": [...], "creator": {...}, "artifacts": dir, "journeys": [...]}'
// Prints one JSON line: {journey: {ok, error?, ...what it saw}}; pytest asserts on it
// (tests/web/test_dismiss_journey.py). Screenshots at 390×844.
import { axe, context as open, finish, journey, PHONE, setup, shot as save } from "./harness.mjs";

const shot = (page, name) => save(page, `${name}-390x844`);
const ACTIVE = 'article[data-active="true"]';

/** A new account through the app's own dialog; the page stays signed in. */
async function register(page, handle) {
  await page.goto(`${setup.url}/settings`);
  await page.getByRole("button", { name: "Sign in" }).first().click();
  const dialog = page.getByRole("dialog", { name: /^(Sign in|Create account)$/ });
  await dialog.getByRole("button", { name: "New here? Create an account" }).click();
  await dialog.getByLabel("Handle").fill(handle);
  await dialog.getByLabel("E-mail").fill(`${handle}@example.com`);
  await dialog.getByLabel("Password").fill("a long enough password");
  await dialog.getByRole("button", { name: "Create account" }).click();
  await dialog.waitFor({ state: "hidden" });
}

const active = (page) => page.$eval(ACTIVE, (a) => a.dataset.clipId);
const queued = (page) => page.$$eval("article[data-clip-id]", (all) => all.map((a) => a.dataset.clipId));

/** Opens the visible clip's share sheet and picks `choice`; returns the answer to the request it sends. */
async function choose(page, choice, method, urlEnd) {
  await page.getByRole("button", { name: /^Share \d/ }).click();
  const sheet = page.getByRole("dialog", { name: "Share" });
  const answered = page.waitForResponse((r) => r.url().endsWith(urlEnd) && r.request().method() === method);
  await sheet.getByRole("button", { name: choice }).click();
  return answered;
}

await journey("see_less", async () => {
  const { ctx, page } = await open(PHONE, { hasTouch: true });
  try {
    return await seeLess(page);
  } catch (error) {
    await shot(page, "failed");
    throw error;
  } finally {
    await ctx.close();
  }
});

async function seeLess(page) {
  await register(page, `picky${Date.now() % 100000}`);
  await page.goto(`${setup.url}/`);
  await page.locator(ACTIVE).waitFor({ timeout: 20000 });
  await page.keyboard.press("ArrowDown"); // one clip in: Undo must bring the viewer back here
  await page.waitForFunction((sel) => document.querySelector(sel)?.dataset.clipId, ACTIVE);
  await page.locator(ACTIVE).waitFor();
  const dismissed = await active(page);

  // 1. Not interested: the clip leaves the queue at once; Undo puts it back where it was.
  const marked = await choose(page, "Not interested", "PUT", "/not-interested");
  await page.waitForFunction(([sel, id]) => document.querySelector(sel)?.dataset.clipId !== id, [ACTIVE, dismissed]);
  const afterMark = { active: await active(page), queued: await queued(page) };
  const undoButton = page.getByRole("status").getByRole("button", { name: "Undo" });
  await undoButton.waitFor();
  await shot(page, "not-interested-undo");
  const feedViolations = await axe(page);
  const undone = page.waitForResponse((r) => r.url().endsWith("/not-interested") && r.request().method() === "DELETE");
  await undoButton.click();
  const undoStatus = (await undone).status();
  await page.waitForFunction(([sel, id]) => document.querySelector(sel)?.dataset.clipId === id, [ACTIVE, dismissed]);
  const afterUndo = await active(page);

  // 2. Hide the creator: all their clips leave the queue at once (every clip here is theirs).
  const queuedBeforeHide = (await queued(page)).length;
  const owner = await page.$eval(ACTIVE, (a) => a.querySelector('a[href^="/@"]')?.getAttribute("href"));
  const hidden = await choose(page, `Hide clips from ${owner.slice(1)}`, "PUT", "/hide");
  await page.getByText("Clips from @maker are hidden from For You for 30 days.").waitFor();
  await page.getByText("No clips yet").waitFor();
  const queuedAfterHide = (await queued(page)).length;

  // 3. Settings lists @maker under Hidden creators, with the day they come back; Show again.
  await page.goto(`${setup.url}/settings`);
  const list = page.getByRole("list", { name: "Hidden creators" });
  await list.getByText("@maker").waitFor();
  const listed = await list.getByRole("listitem").allTextContents();
  await list.scrollIntoViewIfNeeded();
  await shot(page, "hidden-creators");
  const settingsViolations = await axe(page);
  const shown = page.waitForResponse((r) => r.url().endsWith("/hide") && r.request().method() === "DELETE");
  await list.getByRole("button", { name: "Show again @maker" }).click();
  const showStatus = (await shown).status();
  await list.getByText("You have not hidden anyone.").waitFor();
  await page.reload(); // the server's list, not the page's
  await list.getByText("You have not hidden anyone.").waitFor();
  return {
    clips: setup.clips, dismissed, markStatus: marked.status(), afterMark, undoStatus, afterUndo,
    hideStatus: hidden.status(), queuedBeforeHide, queuedAfterHide, listed, showStatus,
    violations: [...feedViolations, ...settingsViolations], errors: page.errors,
  };
}

await finish();
