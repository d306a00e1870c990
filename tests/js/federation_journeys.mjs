// Federation in the web app, in Debian's Chromium against a server of its own that federates
// with a second one (both started by tests/web/test_federation_journeys.py): a viewer finds an
// account of the other server from the search box and follows it; a lookup that fails says why;
// an admin sets, lists and changes remote servers' policies, one by one and from a pasted list.
// The journeys run in order: the admin sees the server the viewer's lookup met.
//   node federation_journeys.mjs '{"url": ..., "artifacts": dir, "admin": {...}, "viewer": {...},
//                                  "peer": "host:port", "far": {...}, "unreachable": "host:port"}'
// Prints one JSON line: {journey: {ok, error?, ...what it saw}}.
import { asSignedIn, axe, context, DESKTOP, finish, journey, PHONE, setup, shot as save, signIn } from "./harness.mjs";

const shot = (page, name) => save(page, name, { fullPage: true });
const text = async (locator) => ((await locator.textContent()) ?? "").trim();

/** The search page for `query`, typed into the search box as a person would. */
async function search(page, query) {
  const box = page.getByRole("combobox", { name: "Search clips, creators and hashtags" });
  await box.fill(query);
  await box.press("Enter");
  await page.waitForURL((url) => url.searchParams.get("q") === query);
}

/** What the remote-account section ends on: the account, or the alert saying why not. */
async function remoteAnswer(page) {
  const section = page.getByRole("region", { name: "Account on another server" });
  await section.locator(".account, [role=alert]").first().waitFor();
  return section;
}

// 1. A viewer searches @bea_far@peer: signed out, the page asks them to sign in; signed in, the
//    account shows with its server and a Follow button, which follows it (still followed after a
//    reload). Its profile address finds the same account. An unreachable server and an unknown
//    name each say so; an ordinary search shows the usual tabs and looks nothing up.
await journey("find_and_follow", async () => {
  const { ctx, page } = await context(PHONE);
  let lookups = 0;
  page.on("request", (request) => {
    if (new URL(request.url()).pathname === "/v1/federation/lookup") lookups += 1;
  });
  const account = `${setup.far.handle}@${setup.peer}`;
  const path = `/search?q=${encodeURIComponent(`@${account}`)}`;
  await page.goto(`${setup.url}${path}`);
  const signInFirst = page.getByText("Sign in to find accounts on other servers.");
  await signInFirst.waitFor();
  const anonymous = await text(signInFirst);
  const anonymousViolations = await axe(page);

  await signIn(page, setup.viewer, path);
  const section = await remoteAnswer(page);
  const found = { name: await text(section.locator(".name")), handle: await text(section.locator(".handle")),
    from: await text(section.locator(".from")), bio: await text(section.locator(".bio")) };
  const follow = section.getByRole("button", { name: `Follow @${account}`, exact: true });
  const followName = (await text(follow)).replace(/\s+/g, " ");
  const violations = await axe(page);
  await shot(page, "search-remote-390x844");
  const answered = page.waitForResponse((response) => response.url().endsWith("/follow")
    && response.request().method() === "PUT");
  await follow.click();
  const followed = section.getByRole("button", { name: `Following @${account}`, exact: true });
  await followed.waitFor();
  await answered;
  const pressed = await followed.getAttribute("aria-pressed");
  await shot(page, "search-remote-followed-390x844");
  await page.setViewportSize(DESKTOP);
  await shot(page, "search-remote-1440x900");
  await page.setViewportSize(PHONE);
  await page.reload();
  const again = await remoteAnswer(page);
  const afterReload = await again.getByRole("button", { name: `Following @${account}`, exact: true })
    .getAttribute("aria-pressed");

  await search(page, `http://${setup.peer}/@${setup.far.handle}`);
  const byUrl = await text((await remoteAnswer(page)).locator(".handle"));

  await search(page, `nobody@${setup.unreachable}`);
  const failed = await remoteAnswer(page);
  const unreachable = { server: setup.unreachable, alert: await text(failed.getByRole("alert")),
    retry: await failed.getByRole("button", { name: "Try again" }).count() };
  const failedViolations = await axe(page);
  await shot(page, "search-remote-unreachable-390x844");

  await search(page, `nobody_here@${setup.peer}`);
  const unknown = await text((await remoteAnswer(page)).getByRole("alert"));

  const before = lookups;
  await search(page, "@maker");
  await search(page, "kickflip");
  await page.getByRole("navigation", { name: "Results" }).waitFor();
  const ordinary = { tabs: await page.getByRole("navigation", { name: "Results" }).getByRole("link").allTextContents(),
    remoteSections: await page.getByRole("region", { name: "Account on another server" }).count(),
    lookups: lookups - before };
  await ctx.close();
  return { anonymous, found, followName, pressed, afterReload, byUrl, unreachable, unknown, ordinary, lookups,
    violations: [...anonymousViolations, ...violations, ...failedViolations], errors: page.errors };
});

/** The policy each server of the table shows, by server. */
async function tablePolicies(page) {
  return page.locator("tr[data-server]").evaluateAll((rows) =>
    Object.fromEntries(rows.map((row) => [row.dataset.server, row.dataset.policy])));
}

async function rowPolicy(page, server, policy) {
  const row = page.locator(`tr[data-server="${server}"]`);
  await page.locator(`tr[data-server="${server}"][data-policy="${policy}"]`).waitFor();
  return row.getAttribute("data-policy");
}

// 2. The admin opens Federation on a phone: the peer met by the viewer's lookup is listed. A
//    server name the API would refuse is refused in the form; video.example is added silenced,
//    then suspended (asked once more: cancelled first, then confirmed). A pasted list with a
//    CSV header and a bad line sets two servers to reject media and says which line was not
//    applied. A reload shows what the server kept.
await journey("server_policies", async () => {
  const { ctx, page } = await context(PHONE);
  await signIn(page, setup.admin, "/admin/federation");
  const peerRow = page.locator(`tr[data-server="${setup.peer}"]`);
  await peerRow.waitFor();
  // On a phone the server's cell sums up the columns that do not fit.
  const discovered = { policy: await peerRow.getAttribute("data-policy"), summary: await text(peerRow.locator(".narrow")) };
  const violations = await axe(page);
  await shot(page, "admin-federation-390x844");

  const form = page.getByRole("form", { name: "Add a server" });
  await form.getByLabel("Server name").fill("not a server!");
  await form.getByRole("button", { name: "Add" }).click();
  const invalid = await text(form.getByRole("alert"));
  await form.getByLabel("Server name").fill("Video.Example");
  await form.getByLabel("Policy for the new server").selectOption("silence");
  await form.getByRole("button", { name: "Add" }).click();
  const toast = page.getByRole("status").filter({ hasText: "video.example set to Silence." });
  await toast.waitFor();
  const addedToast = await text(toast);
  const added = await rowPolicy(page, "video.example", "silence");

  const row = page.locator('tr[data-server="video.example"]');
  await row.getByLabel("Policy of video.example", { exact: true }).selectOption("suspend");
  await row.getByRole("button", { name: "Save the policy of video.example" }).click();
  const dialog = page.getByRole("dialog", { name: "Suspend video.example?" });
  await dialog.waitFor();
  const dialogName = await text(dialog.getByRole("heading"));
  const dialogViolations = await axe(page);
  await shot(page, "admin-federation-suspend-390x844");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await dialog.waitFor({ state: "hidden" });
  const afterCancel = await row.getAttribute("data-policy");
  await row.getByRole("button", { name: "Save the policy of video.example" }).click();
  await dialog.getByRole("button", { name: "Suspend" }).click();
  const changed = await rowPolicy(page, "video.example", "suspend");

  await page.getByText("Import a list").click();
  await page.getByLabel("Servers, one per line").fill("#domain,#severity\nspam.example,suspend\nnot a server\nads.example\n");
  await page.getByLabel("Policy for every server of the list").selectOption("reject_media");
  await page.getByRole("button", { name: "Apply to all" }).click();
  const outcome = page.locator(".outcome[data-running=false]");
  await outcome.waitFor();
  const imported = await text(outcome.getByRole("status"));
  const refused = await outcome.getByRole("list").getByRole("listitem").allTextContents();
  await rowPolicy(page, "spam.example", "reject_media");
  const importViolations = await axe(page);
  await shot(page, "admin-federation-import-390x844");
  await page.setViewportSize(DESKTOP);
  await shot(page, "admin-federation-1440x900");

  await page.reload();
  await page.locator('tr[data-server="ads.example"]').waitFor();
  const afterReload = await tablePolicies(page);
  await ctx.close();
  return { discovered, invalid, added, addedToast, dialog: dialogName, afterCancel, changed, imported,
    refused: refused.map((line) => line.trim()), afterReload,
    violations: [...violations, ...dialogViolations, ...importViolations], errors: page.errors };
});

// 3. Another viewer finds bea from the search box and blocks her whole server from the card: asked
//    first (cancelled, then confirmed), the card then says the server is blocked, without Follow,
//    and still after a reload. Its link opens Settings, where Blocked servers lists the server and
//    Unblock ends the block; the card offers Block server and Follow again.
await journey("block_server_from_search", async () => {
  const { ctx, page } = await context(PHONE);
  const account = `${setup.far.handle}@${setup.peer}`;
  const path = `/search?q=${encodeURIComponent(`@${account}`)}`;
  await signIn(page, setup.blocker, path);
  let section = await remoteAnswer(page);
  const block = section.getByRole("button", { name: `Block server ${setup.peer}`, exact: true });
  await block.waitFor();
  const buttons = await section.getByRole("button").allTextContents();
  await block.click();
  const confirm = page.getByRole("alertdialog", { name: `Block everyone on ${setup.peer}?` });
  await confirm.waitFor();
  const explain = await text(confirm.locator("#remote-block-explain"));
  const focused = await page.evaluate(() => document.activeElement?.textContent?.trim());
  const confirmViolations = await axe(page);
  await shot(page, "search-remote-block-confirm-390x844");
  await confirm.getByRole("button", { name: "Cancel" }).click();
  await confirm.waitFor({ state: "hidden" });
  await block.click();
  const answered = page.waitForResponse((r) => r.url().endsWith("/v1/me/domain-blocks") && r.request().method() === "POST");
  await confirm.getByRole("button", { name: "Block server" }).click();
  const blockStatus = (await answered).status();
  await page.getByRole("status").getByText(`${setup.peer} is blocked.`).waitFor();
  const unblock = section.getByRole("button", { name: `Unblock server ${setup.peer}`, exact: true });
  await unblock.waitFor();
  const note = (await text(section.locator(".blocked-note"))).replace(/\s+/g, " ");
  const followWhileBlocked = await section.getByRole("button", { name: `Follow @${account}` }).count();
  const blockedViolations = await axe(page);
  await shot(page, "search-remote-blocked-390x844");
  await page.reload();
  section = await remoteAnswer(page);
  await section.getByRole("button", { name: `Unblock server ${setup.peer}`, exact: true }).waitFor();
  const afterReload = await section.locator(".server-block").getAttribute("data-blocked");

  await section.getByRole("link", { name: "Blocked servers, in Settings" }).click();
  await page.waitForURL(`${setup.url}/settings`);
  const list = page.getByRole("list", { name: "Blocked servers" });
  await list.getByText(setup.peer, { exact: true }).waitFor();
  const listed = (await list.getByRole("listitem").allTextContents()).map((s) => s.trim().replace(/\s+/g, " "));
  await list.getByRole("button", { name: `Unblock ${setup.peer}` }).click();
  await page.getByRole("status").getByText(`${setup.peer} is unblocked.`).waitFor();
  await list.getByText("You have not blocked any server.").waitFor();

  await page.goto(`${setup.url}${path}`);
  section = await remoteAnswer(page);
  await section.getByRole("button", { name: `Block server ${setup.peer}`, exact: true }).waitFor();
  const followAgain = await section.getByRole("button", { name: `Follow @${account}`, exact: true }).count();
  await ctx.close();
  return { buttons: buttons.map((s) => s.trim().replace(/\s+/g, " ")), explain, focused, blockStatus, note,
    followWhileBlocked, afterReload, listed, followAgain, violations: [...confirmViolations, ...blockedViolations],
    errors: page.errors };
});

// 4. The viewer gets no Federation section, and its API answers them 403.
await journey("not_an_admin", async () => {
  const { ctx, page } = await context(PHONE);
  await signIn(page, setup.viewer, "/admin/federation");
  const denied = await text(page.getByRole("alert").filter({ hasText: "admins" }));
  const violations = await axe(page);
  const api = await asSignedIn(page, "PUT", "/v1/admin/federation/servers/mine.example", { policy: "allow" });
  await ctx.close();
  return { denied, api, violations, errors: page.errors };
});

await finish();
