// Blocking a whole server in the web app, in Debian's Chromium against a server of its own
// (started by tests/web/test_domain_block_journeys.py) that knows an account of another server,
// remy@peer.example, which the viewer and a local friend follow and whose clip is stored here:
// from remy's profile menu the viewer blocks peer.example (after a confirmation); the clip and
// the Follow button go, and remy leaves the friend's Following list. Settings lists the server
// under Blocked servers, where Unblock ends the block and the field blocks another (or says why a
// name is no server's). Remote profiles are opened from Following lists, as people reach them.
//   node domain_block_journeys.mjs '{"url": ..., "artifacts": dir, "viewer": {...}, "friend": "handle",
//                                    "remote": "name@server", "server": "server"}'
// Prints one JSON line: {journey: {ok, error?, ...what it saw}}. Screenshots at 390×844.
import { axe, context, finish, journey, PHONE, setup, shot as save, signIn } from "./harness.mjs";

const shot = (page, name) => save(page, `${name}-390x844`, { fullPage: true });
const text = async (locator) => ((await locator.textContent()) ?? "").trim().replace(/\s+/g, " ");
const gridSize = (page) => page.getByRole("list", { name: "Clips" }).locator("a[href^='/c/']").count();

/** The handles in `handle`'s Following list (its dialog left open). */
async function followingOf(page, handle) {
  await page.goto(`${setup.url}/@${handle}`);
  await page.getByRole("button", { name: /Following$/ }).click();
  const list = page.getByRole("dialog", { name: "Following" });
  await list.locator("li").first().waitFor();
  return { list, handles: await list.locator("a").evaluateAll((links) => links.map((a) => a.getAttribute("href"))) };
}

await journey("block_and_unblock_a_server", async () => {
  const { ctx, page } = await context(PHONE);
  try {
    return await blockAndUnblock(page);
  } catch (error) {
    await shot(page, "failed");
    throw error;
  } finally {
    await ctx.close();
  }
});

async function blockAndUnblock(page) {
  const profile = `/@${setup.remote}`;
  const more = page.getByRole("button", { name: `More options for @${setup.remote}` });
  await signIn(page, setup.viewer, "/settings");
  const mine = await followingOf(page, setup.viewer.handle);
  await mine.list.getByRole("link", { name: new RegExp(`@${setup.remote}$`) }).click();
  await page.waitForURL(`${setup.url}${profile}`);
  const follow = page.getByRole("button", { name: "Following", exact: true });
  await follow.waitFor();
  await page.getByRole("list", { name: "Clips" }).locator("a[href^='/c/']").first().waitFor();
  const before = { clips: await gridSize(page), following: await follow.getAttribute("aria-pressed") };

  // 1. The profile's menu offers to block the whole server; a confirmation says what it does.
  await more.click();
  const menuItems = await page.getByRole("menuitem").allTextContents();
  await page.getByRole("menuitem", { name: `Block server ${setup.server}` }).click();
  const confirm = page.getByRole("alertdialog", { name: `Block everyone on ${setup.server}?` });
  await confirm.waitFor();
  const confirmText = await text(confirm.locator("#block-server-explain"));
  const focused = await page.evaluate(() => document.activeElement?.textContent?.trim());
  await shot(page, "profile-confirm");
  const confirmViolations = await axe(page);
  // Cancel first: nothing happens.
  await confirm.getByRole("button", { name: "Cancel" }).click();
  await confirm.waitFor({ state: "hidden" });
  await more.click();
  await page.getByRole("menuitem", { name: `Block server ${setup.server}` }).click();
  const answered = page.waitForResponse((r) => r.url().endsWith("/v1/me/domain-blocks") && r.request().method() === "POST");
  await confirm.getByRole("button", { name: "Block server" }).click();
  const blockStatus = (await answered).status();
  await page.getByRole("status").getByText(`${setup.server} is blocked.`).waitFor();
  await page.getByText("No clips yet.").waitFor();
  const after = { clips: await gridSize(page),
    followButtons: await page.getByRole("button", { name: /^Follow(ing)?$/ }).count() };
  await more.click();
  const unblockOffered = await page.getByRole("menuitem", { name: `Unblock server ${setup.server}` }).count();
  await shot(page, "profile-blocked");
  const profileViolations = await axe(page);
  // The friend's Following list leaves remy out while the server is blocked.
  const friendsWhileBlocked = (await followingOf(page, setup.friend)).handles;

  // 2. Settings lists the server; the field blocks another and says why a name is no server's.
  await page.goto(`${setup.url}/settings`);
  const list = page.getByRole("list", { name: "Blocked servers" });
  await list.getByText(setup.server, { exact: true }).waitFor();
  const listed = await list.getByRole("listitem").allTextContents();
  const field = page.getByRole("textbox", { name: "Server" });
  await field.fill("not a server");
  await page.getByRole("button", { name: "Block", exact: true }).click();
  const refusal = await text(page.getByRole("alert").filter({ hasText: "server" }).first());
  await field.fill("https://Other.Example/@someone");
  await page.getByRole("button", { name: "Block", exact: true }).click();
  await list.getByText("other.example", { exact: true }).waitFor();
  const afterAdding = (await list.getByRole("listitem").allTextContents()).map((s) => s.trim().replace(/\s+/g, " "));
  await list.scrollIntoViewIfNeeded();
  await shot(page, "settings-blocked-servers");
  const settingsViolations = await axe(page);

  // 3. Unblock peer.example from the list; a reload reads the server's list again.
  const removed = page.waitForResponse((r) => r.url().includes("/v1/me/domain-blocks/") && r.request().method() === "DELETE");
  await list.getByRole("button", { name: `Unblock ${setup.server}` }).click();
  const unblockStatus = (await removed).status();
  await page.getByRole("status").getByText(`${setup.server} is unblocked.`).waitFor();
  await page.reload();
  await list.getByText("other.example", { exact: true }).waitFor();
  const afterUnblock = (await list.getByRole("listitem").allTextContents()).map((s) => s.trim().replace(/\s+/g, " "));

  // 4. The friend follows remy again as far as the viewer can see; on remy's profile the clip is
  //    back, the follow the block ended is not.
  const friends = await followingOf(page, setup.friend);
  await friends.list.getByRole("link", { name: new RegExp(`@${setup.remote}$`) }).click();
  await page.waitForURL(`${setup.url}${profile}`);
  await page.getByRole("list", { name: "Clips" }).locator("a[href^='/c/']").first().waitFor();
  const followAgain = page.getByRole("button", { name: "Follow", exact: true });
  await followAgain.waitFor();
  const back = { clips: await gridSize(page), following: await followAgain.getAttribute("aria-pressed") };
  return {
    before, menuItems: menuItems.map((s) => s.trim()), confirmText, focused, blockStatus, after, unblockOffered,
    mine: mine.handles, friendsWhileBlocked, friendsAfter: friends.handles,
    listed: listed.map((s) => s.trim().replace(/\s+/g, " ")), refusal, afterAdding, unblockStatus, afterUnblock, back,
    violations: [...confirmViolations, ...profileViolations, ...settingsViolations], errors: page.errors,
  };
}

await finish();
