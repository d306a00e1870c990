// The admin console (/admin) and the moderators' block-by-file in Debian's Chromium against a
// real server (started by tests/web/conftest.py, seeded by tests/web/test_admin_journeys.py).
// Each journey reports what it saw; pytest asserts on it. The journeys run in order: each
// builds on the settings the one before left.
//   node admin_journeys.mjs '{"url": ..., "artifacts": dir, "admin": {...}, "viewer": {...},
//                             "newcomer": {...}, "blockFile": path, "journeys": [...]}'
// Prints one JSON line: {journey: {ok, error?, ...what it measured}}.
import { asSignedIn, axe, context, DESKTOP, finish, journey, PHONE, setup, shot as save, signIn } from "./harness.mjs";

const shot = (page, name) => save(page, name, { fullPage: true });

/** The sign-up side of the dialog as a stranger sees it: its notice, and the fields it asks for. */
async function signUpScreen(page) {
  await page.goto(`${setup.url}/`);
  await page.getByRole("button", { name: "Sign in" }).first().click();
  const dialog = page.getByRole("dialog", { name: "Sign in" });
  await dialog.getByRole("button", { name: "New here? Create an account" }).click();
  const form = page.getByRole("dialog", { name: "Create account" });
  await form.waitFor();
  const notice = form.getByRole("status");
  await notice.waitFor();
  return { form, notice: (await notice.textContent()).trim(), title: await page.title(),
    fields: await form.locator("input").evaluateAll((inputs) => inputs.map((i) => i.name)),
    submit: await form.getByRole("button", { name: "Create account" }).count() };
}

async function setting(page, name) {
  return page.locator(`form[data-setting="${name}"]`);
}

async function saveSetting(page, name, label, value, { select = false } = {}) {
  const form = await setting(page, name);
  if (select) await form.getByLabel(label, { exact: true }).selectOption(value);
  else await form.getByLabel(label, { exact: true }).fill(value);
  await form.getByRole("button", { name: `Save ${label}` }).click();
  await page.getByRole("status").filter({ hasText: `${label} saved.` }).waitFor();
  return form;
}

// 1. An admin renames the instance and closes registration on a phone: the page title follows,
//    the setting says it is overridden and shows the environment's value; a stranger's sign-up
//    screen then says registration is closed and offers no form.
await journey("rename_and_close", async () => {
  const { ctx, page } = await context(PHONE);
  await signIn(page, setup.admin, "/admin");
  const name = await setting(page, "instance_name");
  await name.waitFor();
  const violations = await axe(page);
  await shot(page, "admin-instance-390x844");
  await saveSetting(page, "instance_name", "Instance name", "Harbour Clips");
  await page.waitForFunction(() => document.title === "Harbour Clips");
  const overridden = await name.getAttribute("data-overridden");
  const environment = (await name.locator(".env").textContent()).trim();
  const adminTitle = await page.title();

  await page.getByRole("link", { name: "Registration" }).click();
  await saveSetting(page, "registration_mode", "Who can sign up", "closed", { select: true });
  const registrationViolations = await axe(page);
  await shot(page, "admin-registration-390x844");
  await page.setViewportSize(DESKTOP);
  await shot(page, "admin-registration-1440x900");
  await ctx.close();

  const stranger = await context(PHONE);
  const closed = await signUpScreen(stranger.page);
  const signUpViolations = await axe(stranger.page);
  await shot(stranger.page, "signup-closed-390x844");
  await stranger.ctx.close();
  return { overridden, environment, adminTitle, closed: { notice: closed.notice, title: closed.title,
    fields: closed.fields, submit: closed.submit },
    violations: [...violations, ...registrationViolations, ...signUpViolations], errors: [...page.errors, ...stranger.page.errors] };
});

// 2. Invite-only: the admin switches the mode, creates a code for someone; that person signs up
//    with it (typed in lower case); the console then shows the code used by them.
await journey("invite_only", async () => {
  const { ctx, page } = await context(PHONE);
  await signIn(page, setup.admin, "/admin/registration");
  await saveSetting(page, "registration_mode", "Who can sign up", "invite", { select: true });
  await page.getByLabel("Who is it for? (optional)").fill("Noor from the harbour club");
  await page.getByRole("button", { name: "Create a code" }).click();
  const row = page.locator("li[data-code]").first();
  await row.waitFor();
  const code = await row.getAttribute("data-code");
  const violations = await axe(page);
  await shot(page, "admin-invites-390x844");

  const stranger = await context(PHONE);
  const screen = await signUpScreen(stranger.page);
  const signUpViolations = await axe(stranger.page); // before typing scrolls the dialog's top out of view
  await screen.form.getByLabel("Invite code").fill(code.toLowerCase());
  await screen.form.getByLabel("Handle").fill(setup.newcomer.handle);
  await screen.form.getByLabel("E-mail").fill(`${setup.newcomer.handle}@example.com`);
  await screen.form.getByLabel("Password").fill(setup.newcomer.password);
  await shot(stranger.page, "signup-invite-390x844");
  await screen.form.getByRole("button", { name: "Create account" }).click();
  await screen.form.waitFor({ state: "hidden" });
  const signedUpAs = await stranger.page.evaluate(() => JSON.parse(localStorage.getItem("clipfeed.session") ?? "null")?.user?.handle ?? null);
  await stranger.ctx.close();

  // Twenty newer codes push the used one to the list's second page, behind "Load more".
  for (let n = 0; n < 20; n += 1) await asSignedIn(page, "POST", "/v1/admin/invites", { note: `batch ${n}` });
  await page.reload();
  await page.locator("li[data-code]").nth(19).waitFor();
  const firstPage = await page.locator("li[data-code]").count();
  const usedOnFirstPage = await page.locator(`li[data-code="${code}"]`).count();
  await page.getByRole("button", { name: "Load more" }).click();
  const used = page.locator(`li[data-code="${code}"]`);
  await used.waitFor();
  const state = await used.getAttribute("data-state");
  const meta = (await used.locator(".meta").textContent()).trim();
  await ctx.close();
  return { code, notice: screen.notice, fields: screen.fields, signedUpAs, state, meta, firstPage, usedOnFirstPage,
    violations: [...violations, ...signUpViolations], errors: [...page.errors, ...stranger.page.errors] };
});

// 3. Limits: the admin lowers the longest clip to 20 s and the largest upload to 50 MiB; the
//    create page's recorder then stops at 20 s (its meter's maximum says so).
await journey("lower_limits", async () => {
  const { ctx, page } = await context(PHONE);
  await signIn(page, setup.admin, "/admin/limits");
  await saveSetting(page, "upload_max_duration_s", "Longest clip (seconds)", "20");
  await saveSetting(page, "upload_max_bytes", "Largest upload (MiB)", "50");
  const invalid = await setting(page, "upload_max_duration_s");
  await invalid.getByLabel("Longest clip (seconds)", { exact: true }).fill("nine");
  await invalid.getByRole("button", { name: "Save Longest clip (seconds)" }).click();
  const refused = (await invalid.getByRole("alert").textContent()).trim();
  const violations = await axe(page);
  await shot(page, "admin-limits-390x844");
  await page.setViewportSize(DESKTOP);
  await shot(page, "admin-limits-1440x900");
  await page.setViewportSize(PHONE);

  await page.goto(`${setup.url}/create`);
  const meter = page.getByRole("progressbar");
  await meter.waitFor();
  const recorderMax = await meter.getAttribute("aria-valuemax");
  await ctx.close();
  return { refused, recorderMax, violations, errors: page.errors };
});

// 4. The rest of the console: the storage bill per tier, service health (refreshed on its own),
//    the screening thresholds, and the audit of everything the journeys above changed.
await journey("bill_health_audit", async () => {
  const { ctx, page } = await context(PHONE);
  await signIn(page, setup.admin, "/admin/storage");
  await page.locator("tr[data-tier]").first().waitFor();
  const tiers = await page.locator("tr[data-tier]").evaluateAll((rows) => rows.map((r) => [...r.children].map((c) => c.textContent.trim())));
  const total = (await page.locator(".total").textContent()).trim();
  const violations = [...await axe(page)];
  await shot(page, "admin-storage-390x844");

  await page.getByRole("link", { name: "Health" }).click();
  await page.locator("[data-ready]").waitFor();
  const ready = (await page.locator("[data-ready]").textContent()).trim();
  const roles = await page.locator("details[data-role]").evaluateAll((items) => items.map((d) => [d.dataset.role, d.dataset.state]));
  const firstCheck = await page.locator(".checked").getAttribute("data-checked");
  await page.waitForFunction((before) => document.querySelector(".checked")?.dataset.checked !== before, firstCheck,
    { timeout: 25_000 }); // refreshed without a reload
  violations.push(...await axe(page));
  await shot(page, "admin-health-390x844");

  await page.getByRole("link", { name: "Screening" }).click();
  const nsfwHold = page.getByLabel("Hold threshold of Nudity");
  await nsfwHold.fill("0.9");
  await page.getByLabel("Reject threshold of Nudity").fill("0.5");
  await page.getByRole("button", { name: "Save Screening thresholds" }).click();
  const policyRefused = (await page.locator('form[data-setting="screening_policy"]').getByRole("alert").textContent()).trim();
  violations.push(...await axe(page));
  await shot(page, "admin-screening-390x844");

  await page.getByRole("link", { name: "Audit" }).click();
  await page.locator("tr[data-action]").first().waitFor();
  // The invite journey's batch of codes fills more than a page: load the whole audit.
  for (const more = page.getByRole("button", { name: "Load more" }); await more.isVisible();) {
    const rows = await page.locator("tr[data-action]").count();
    await more.click();
    await page.waitForFunction((n) => document.querySelectorAll("tr[data-action]").length > n, rows);
  }
  const audit = await page.locator("tr[data-action]").evaluateAll((rows) => rows.map((r) => [...r.children].slice(1).map((c) => c.textContent.trim())));
  violations.push(...await axe(page));
  await shot(page, "admin-audit-390x844");
  await page.setViewportSize(DESKTOP);
  await shot(page, "admin-audit-1440x900");
  await ctx.close();
  return { tiers, total, ready, roles, policyRefused, audit, violations, errors: page.errors };
});

// 5. Someone who is not an admin (a moderator, then a plain user): the console says so and asks
//    nothing of the admin API; the API refuses them (403 problem+json) on every admin route.
await journey("not_an_admin", async () => {
  const outcome = {};
  for (const who of ["moderator", "viewer"]) {
    const { ctx, page } = await context(PHONE);
    const asked = [];
    page.on("request", (request) => {
      if (new URL(request.url()).pathname.startsWith("/v1/admin")) asked.push(request.url());
    });
    await signIn(page, setup[who], "/admin");
    const denied = (await page.getByRole("alert").filter({ hasText: "admins" }).textContent()).trim();
    const tabs = await page.getByRole("link", { name: "Registration" }).count();
    const violations = await axe(page);
    await shot(page, `admin-denied-${who}-390x844`);
    const uiRequests = asked.length;
    const api = {};
    for (const [method, path, body] of [
      ["GET", "/v1/admin/settings"], ["PUT", "/v1/admin/settings/instance_name", { value: "Mine now" }],
      ["DELETE", "/v1/admin/settings/registration_mode"], ["GET", "/v1/admin/invites"],
      ["POST", "/v1/admin/invites", { note: "" }], ["GET", "/v1/admin/audit"], ["GET", "/v1/admin/storage"],
      ["GET", "/v1/admin/health"],
    ]) {
      api[`${method} ${path}`] = await asSignedIn(page, method, path, body);
    }
    await ctx.close();
    outcome[who] = { denied, tabs, uiRequests, api, violations, errors: page.errors };
  }
  return { ...outcome, violations: [...outcome.moderator.violations, ...outcome.viewer.violations],
    errors: [...outcome.moderator.errors, ...outcome.viewer.errors] };
});

// 6. A moderator blocklists prohibited content from a video file: the server fingerprints it
//    and lists the entry (from no clip); the file itself is not kept.
await journey("block_by_file", async () => {
  const { ctx, page } = await context(PHONE);
  await signIn(page, setup.moderator, "/mod/blocklist");
  const form = page.locator("form", { has: page.getByRole("heading", { name: "Add a video file" }) });
  await form.getByLabel("Video file").setInputFiles(setup.blockFile);
  await form.getByLabel("Reason").fill("Known scam video, sent by a partner");
  const violations = await axe(page);
  await form.getByRole("button", { name: "Fingerprint and add" }).click();
  const entry = page.locator("ul.entries li").filter({ hasText: "Known scam video, sent by a partner" });
  await entry.waitFor({ timeout: 60_000 });
  const text = (await entry.textContent()).trim();
  violations.push(...await axe(page));
  await shot(page, "mod-block-file-390x844");
  await page.setViewportSize(DESKTOP);
  await shot(page, "mod-block-file-1440x900");
  await ctx.close();
  return { text, violations, errors: page.errors };
});

await finish();
