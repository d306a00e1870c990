// The admin console's Federation tab, in Debian's Chromium against a server of its own that has
// met a second one (both started by tests/web/test_federation_admin_journeys.py): the admin has
// the other server's clips cached here (kept after a reload, then back to the instance default),
// and sets a policy for every server running some software, sees it listed, and forgets it.
//   node federation_admin_journeys.mjs '{"url": ..., "artifacts": dir, "admin": {...}, "peer": "host:port",
//                                        "software": "clipfeed"}'
// Prints one JSON line: {journey: {ok, error?, ...what it saw}}.
import { axe, context, DESKTOP, finish, journey, PHONE, setup, shot as save, signIn } from "./harness.mjs";

const shot = (page, name) => save(page, name, { fullPage: true });
const text = async (locator) => ((await locator.textContent()) ?? "").trim();

/** What a server's row says of its clips: its setting, how they play, the choice shown. */
async function media(page, server) {
  const row = page.locator(`tr[data-server="${server}"]`);
  const select = row.getByLabel(`How clips of ${server} are played`, { exact: true });
  return { media: await row.getAttribute("data-media"), effective: await row.getAttribute("data-media-effective"),
    playing: await text(row.locator(".playing")), shown: await text(select.locator("option:checked")) };
}

/** The toast saying `words` (others may be on screen with it). */
async function toastSaying(page, words) {
  const toast = page.locator(".toasts[role=status] p").filter({ hasText: words });
  await toast.waitFor();
  return text(toast);
}

// 1. On a phone: the server met so far plays its clips from itself (the instance default); the
//    admin picks "Cache here" and saves; a reload shows it kept; back to the instance default.
await journey("server_media", async () => {
  const { ctx, page } = await context(PHONE);
  await signIn(page, setup.admin, "/admin/federation");
  const server = setup.peer;
  const row = page.locator(`tr[data-server="${server}"]`);
  await row.waitFor();
  const before = await media(page, server);
  const select = row.getByLabel(`How clips of ${server} are played`, { exact: true });
  const choices = (await select.locator("option").allTextContents()).map((choice) => choice.trim());
  const save = row.getByRole("button", { name: `Save how clips of ${server} are played` });
  const saveDisabled = await save.isDisabled(); // nothing changed yet
  const violations = await axe(page);

  await select.selectOption({ label: "Cache here" });
  await save.click();
  const cachedToast = await toastSaying(page, `${server}: its clips`);
  await page.locator(`tr[data-server="${server}"][data-media="cache"]`).waitFor();
  const cached = await media(page, server);
  const cachedViolations = await axe(page);
  await shot(page, "admin-federation-media-390x844");

  await page.reload();
  await row.waitFor();
  const afterReload = await media(page, server);

  await select.selectOption("default");
  await save.click();
  const defaultToast = await toastSaying(page, "instance default");
  await page.locator(`tr[data-server="${server}"][data-media="default"]`).waitFor();
  const backToDefault = await media(page, server);
  await ctx.close();
  return { before, choices, saveDisabled, cached, cachedToast, afterReload, backToDefault, defaultToast,
    violations: [...violations, ...cachedViolations], errors: page.errors };
});

// 2. On a phone: no policy by software yet; a name that cannot be one is refused in the form;
//    silencing every server running the peer's software silences the peer and lists the policy
//    (kept after a reload); Forget takes it off the list. Then the tab at desktop size.
await journey("software_policies", async () => {
  const { ctx, page } = await context(PHONE);
  await signIn(page, setup.admin, "/admin/federation");
  await page.locator(`tr[data-server="${setup.peer}"]`).waitFor();
  const section = page.getByRole("region", { name: "Policies by software" });
  await section.locator("[data-empty]").waitFor();
  const intro = await text(section.locator(".help").first());
  const emptyBefore = await text(section.locator("[data-empty]"));

  const form = section.getByRole("form", { name: "Set a policy by software" });
  await form.getByLabel("Software", { exact: true }).fill("not valid!");
  await form.getByRole("button", { name: "Set" }).click();
  const invalid = await text(form.getByRole("alert"));

  await form.getByLabel("Software", { exact: true }).fill(` ${setup.software.toUpperCase()} `);
  await form.getByLabel("Policy for every server running it").selectOption("silence");
  await form.getByRole("button", { name: "Set" }).click();
  const setToast = await toastSaying(page, `${setup.software} set to`);
  const item = section.locator(`li[data-software="${setup.software}"]`);
  await item.waitFor();
  const listed = { policy: await item.getAttribute("data-policy"), text: (await text(item)).replace(/\s+/g, " "),
    field: await form.getByLabel("Software", { exact: true }).inputValue() };
  await page.locator(`tr[data-server="${setup.peer}"][data-policy="silence"]`).waitFor();
  const peerPolicy = await page.locator(`tr[data-server="${setup.peer}"]`).getAttribute("data-policy");
  const violations = await axe(page);
  await shot(page, "admin-federation-software-390x844");
  await page.setViewportSize(DESKTOP);
  await shot(page, "admin-federation-software-1440x900");
  await page.setViewportSize(PHONE);

  await page.reload();
  await item.waitFor();
  const afterReload = await section.getByRole("listitem").evaluateAll((items) =>
    items.map((li) => [li.dataset.software, li.dataset.policy]));

  await section.getByRole("button", { name: `Forget the policy for ${setup.software}` }).click();
  const forgetToast = await toastSaying(page, "is forgotten");
  await section.locator("[data-empty]").waitFor();
  const afterForget = { items: await section.getByRole("listitem").count(),
    empty: await text(section.locator("[data-empty]")),
    peerPolicy: await page.locator(`tr[data-server="${setup.peer}"]`).getAttribute("data-policy") };
  const forgetViolations = await axe(page);
  await ctx.close();
  return { intro, emptyBefore, invalid, setToast, listed, peerPolicy, afterReload, forgetToast, afterForget,
    violations: [...violations, ...forgetViolations], errors: page.errors };
});

await finish();
