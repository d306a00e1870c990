// Search and discovery journeys of the web app in Debian's Chromium against a real server
// (started by tests/web/conftest.py): suggestions for a misspelled handle, a hashtag followed
// from its page then in the Tags feed, a muted word leaving the feed, Discover's trending tags.
//   node discover_journeys.mjs '{"url": ..., "clips": [...], "captions": [...], "artifacts": dir, "journeys": [...]}'
// Prints one JSON line: {journey: {ok, error?, ...what it saw}}; pytest asserts on it
// (tests/web/test_discover_journeys.py). Screenshots at 390×844.
import { axe, context as open, finish, journey, PHONE, setup, shot as save } from "./harness.mjs";

const context = () => open(PHONE, { hasTouch: true });
const shot = (page, name) => save(page, `${name}-390x844`);

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

/** The clips of the feed as the viewer moves down it, until it ends (or `max`). */
async function scrollFeed(page, max = 12) {
  const seen = [];
  const active = 'article[data-active="true"]';
  await page.locator(active).first().waitFor({ timeout: 20000 });
  for (let i = 0; i < max; i++) {
    const clip = await page.$eval(active, (a) => ({ clip: a.dataset.clipId, text: a.textContent ?? "" }));
    if (seen.some((s) => s.clip === clip.clip)) break; // the last clip: the key did not move on
    seen.push(clip);
    await page.keyboard.press("ArrowDown");
    await page.waitForFunction((before) => document.querySelector('article[data-active="true"]')?.dataset.clipId
      !== before, clip.clip, { timeout: 4000 }).catch(() => {});
  }
  return seen;
}

// 1. A misspelled handle typed into search: the right creator is suggested (one request per
//    pause in typing, stale ones cancelled), and picking it opens their profile.
await journey("misspelled_handle", async () => {
  const { ctx, page } = await context();
  const asked = [];
  page.on("request", (request) => {
    if (request.url().includes("/v1/search/suggest")) asked.push(new URL(request.url()).searchParams.get("q"));
  });
  await page.goto(`${setup.url}/`);
  await page.getByRole("link", { name: "Search" }).click();
  const box = page.getByRole("combobox", { name: "Search clips, creators and hashtags" });
  await box.pressSequentially("makre", { delay: 40 }); // "maker" with two letters swapped
  const option = page.getByRole("option", { name: /@maker/ });
  await option.waitFor({ timeout: 10000 });
  const options = await page.getByRole("option").allTextContents();
  await shot(page, "search-suggestions");
  const violations = await axe(page);
  await option.click();
  await page.waitForURL("**/@maker");
  const heading = await page.getByRole("heading", { level: 1 }).first().textContent();
  await ctx.close();
  return { options, asked, path: new URL(page.url()).pathname, heading, violations, errors: page.errors };
});

// 2. Search for a hashtag, open its page, follow it: its clips come in the Tags feed.
await journey("follow_hashtag", async () => {
  const { ctx, page } = await context();
  await register(page, `tagfan${Date.now() % 100000}`);
  await page.getByRole("link", { name: "Search" }).click();
  const box = page.getByRole("combobox", { name: "Search clips, creators and hashtags" });
  await box.fill("#kickflip");
  await box.press("Enter");
  await page.waitForURL(/\/search\?q=%23kickflip/);
  const results = page.getByRole("list", { name: "Hashtags" });
  await results.getByRole("link", { name: /#kickflip/ }).waitFor({ timeout: 10000 });
  await shot(page, "search-results");
  const searchViolations = await axe(page);
  await results.getByRole("link", { name: /#kickflip/ }).click();
  await page.waitForURL("**/tags/kickflip");
  const follow = page.getByRole("button", { name: "Follow #kickflip" });
  await follow.waitFor();
  const grid = await page.getByRole("list", { name: "Top" }).getByRole("link").count();
  const followed = page.waitForResponse((r) => r.url().endsWith("/v1/hashtags/kickflip/follow")
    && r.request().method() === "PUT");
  await follow.click();
  const followStatus = (await followed).status();
  const pressed = await page.getByRole("button", { name: "Following #kickflip" }).getAttribute("aria-pressed");
  await shot(page, "hashtag-page");
  const tagViolations = await axe(page);
  await page.getByRole("link", { name: "Tags", exact: true }).click();
  await page.waitForURL("**/hashtags");
  const feed = await scrollFeed(page);
  await shot(page, "tags-feed");
  await ctx.close();
  return { followStatus, pressed, grid, feed, violations: [...searchViolations, ...tagViolations], errors: page.errors };
});

// 3. A muted word (added in Settings) keeps the clip that has it out of the feed.
await journey("muted_word", async () => {
  const { ctx, page } = await context();
  await register(page, `quiet${Date.now() % 100000}`);
  await page.getByLabel("Word, phrase or #hashtag to mute").fill("Spoiler");
  const added = page.waitForResponse((r) => r.url().endsWith("/v1/me/filters") && r.request().method() === "POST");
  await page.getByRole("button", { name: "Mute", exact: true }).click();
  const addStatus = (await added).status();
  // the list is drawn after the answer arrives: read it once the new entry is there
  await page.getByRole("button", { name: "Unmute spoiler" }).waitFor();
  const muted = await page.getByRole("list", { name: "Muted words and hashtags" }).textContent();
  await shot(page, "settings-muted-words");
  const violations = await axe(page);
  await page.goto(`${setup.url}/`);
  const feed = await scrollFeed(page);
  await ctx.close();
  return { addStatus, muted, feed, violations, errors: page.errors };
});

// 4. Discover shows trending hashtags with their clips, and creators.
await journey("discover", async () => {
  const { ctx, page } = await context();
  await page.goto(`${setup.url}/search`);
  await page.getByRole("link", { name: /Discover what's trending/ }).click();
  await page.waitForURL("**/discover");
  await page.locator("article[data-tag]").first().waitFor({ timeout: 10000 });
  const tags = await page.$$eval("article[data-tag]", (found) => found.map((a) => ({
    tag: a.dataset.tag, clips: a.querySelectorAll("li a").length })));
  const creators = await page.getByRole("heading", { name: "Trending creators" }).count();
  await shot(page, "discover");
  const violations = await axe(page);
  await page.getByRole("link", { name: /#sunset/ }).first().click();
  await page.waitForURL("**/tags/sunset");
  await ctx.close();
  return { tags, creators, opened: new URL(page.url()).pathname, violations, errors: page.errors };
});

await finish();
