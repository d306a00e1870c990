// The web app's journeys in Debian's Chromium against a real server (started by
// tests/web/conftest.py). One browser for all; each journey reports what it saw, and pytest
// asserts on it (tests/web/test_journeys.py).
//   node journeys.mjs '{"url": ..., "clips": [...], "creator": {...}, "artifacts": dir, "journeys": [...]}'
// Prints one JSON line: {journey: {ok, error?, ...what it measured}}.
import { axe, context, DESKTOP, finish, journey, PHONE, setup, shot } from "./harness.mjs";

/** Waits until the visible clip plays, then checks that its time advances. */
async function playing(page) {
  const active = 'article[data-active="true"] video';
  await page.waitForFunction((selector) => {
    const video = document.querySelector(selector);
    return video && !video.paused && video.currentTime > 0.2 && video.videoWidth > 0;
  }, active, { timeout: 20000 });
  const first = await page.$eval(active, (v) => v.currentTime);
  await page.waitForFunction(([selector, before]) => document.querySelector(selector).currentTime > before + 0.2,
    [active, first], { timeout: 10000 });
  return page.$eval('article[data-active="true"]', (article) => {
    const video = article.querySelector("video");
    return { clip: article.dataset.clipId, currentTime: video.currentTime, videoWidth: video.videoWidth };
  });
}

// 1. An anonymous viewer scrolls five clips (arrow key, j, wheel, swipe) and each plays; the next two clips
//    are prefetched; playback events reach the server in batches with nothing refused.
await journey("anonymous_scroll", async () => {
  const { ctx, page } = await context(PHONE, { hasTouch: true });
  const cdp = await ctx.newCDPSession(page);
  const requested = [];
  const batches = [];
  let feed = null;
  page.on("request", (request) => requested.push(request.url()));
  page.on("response", async (response) => {
    const url = response.url();
    if (url.includes("/v1/feed?") && !feed) feed = await response.json().catch(() => null);
    if (url.endsWith("/v1/events") && response.request().method() === "POST") {
      batches.push({ status: response.status(), sent: JSON.parse(response.request().postData()).events,
        result: await response.json().catch(() => null) });
    }
  });
  await page.goto(`${setup.url}/`);
  const clips = [];
  const moves = ["ArrowDown", "j", "wheel", "swipe", null];
  let prefetched = null;
  for (const move of moves) {
    clips.push(await playing(page));
    if (clips.length === 1) {
      await shot(page, "feed-390x844");
      const next = feed.items.slice(1, 3).flatMap((item) => item.playback.prefetch_urls);
      const deadline = Date.now() + 8000;
      while (Date.now() < deadline && !next.every((url) => requested.includes(url))) await page.waitForTimeout(100);
      const third = `/media/clips/${feed.items[3].clip.id}/`;
      // The next clip waits in its own player, paused, with its first seconds buffered.
      const nextId = feed.items[1].clip.id;
      await page.waitForFunction((id) => {
        const video = document.querySelector(`article[data-clip-id="${id}"] video`);
        return video && video.paused && video.readyState >= 3 && video.buffered.length > 0;
      }, nextId, { timeout: 8000 }).catch(() => null);
      const nextPlayer = await page.evaluate((id) => {
        const video = document.querySelector(`article[data-clip-id="${id}"] video`);
        return video ? { paused: video.paused, buffered: video.buffered.length ? video.buffered.end(0) : 0 } : null;
      }, nextId);
      prefetched = { nextTwo: next.every((url) => requested.includes(url)),
        thirdAhead: requested.some((url) => url.includes(third)),
        nextWaiting: Boolean(nextPlayer?.paused && nextPlayer.buffered >= 1) };
    }
    if (move === "swipe") {
      // A finger moving up the screen, as the DevTools protocol sends touches.
      const x = PHONE.width / 2;
      await cdp.send("Input.dispatchTouchEvent", { type: "touchStart", touchPoints: [{ x, y: 650 }] });
      for (const y of [560, 470, 380, 300]) {
        await cdp.send("Input.dispatchTouchEvent", { type: "touchMove", touchPoints: [{ x, y }] });
      }
      await cdp.send("Input.dispatchTouchEvent", { type: "touchEnd", touchPoints: [] });
    } else if (move === "wheel") {
      await page.mouse.move(PHONE.width / 2, PHONE.height / 2);
      await page.mouse.wheel(0, 400);
    } else if (move) {
      await page.keyboard.press(move);
    }
  }
  const violations = await axe(page);
  // The skips of the clips left early arrive with a timed flush (every 4 s).
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline && !batches.some((b) => b.sent.some((e) => e.type === "skip"))) {
    await page.waitForTimeout(200);
  }
  const sent = batches.flatMap((batch) => batch.sent);
  await ctx.close();
  return { clips, prefetched, violations, errors: page.errors,
    events: { types: [...new Set(sent.map((e) => e.type))], count: sent.length,
      ids: new Set(sent.map((e) => e.event_id)).size, statuses: batches.map((b) => b.status),
      accepted: batches.reduce((n, b) => n + (b.result?.accepted ?? 0), 0),
      rejected: batches.flatMap((b) => b.result?.rejected ?? []) } };
});

// 2. A shared link opens the app on that clip.
await journey("share_link", async () => {
  const { ctx, page } = await context(PHONE);
  const wanted = setup.clips[setup.clips.length - 1];
  await page.goto(`${setup.url}/?clip=${wanted}`);
  const first = await playing(page);
  await ctx.close();
  return { wanted, first: first.clip };
});

// 3. The creator is signed in elsewhere (a second context) and watches the bell while a new
//    viewer registers, likes (optimistic, then confirmed; a refused unlike rolls back),
//    comments, replies and follows.
await journey("engage_and_live_badge", async () => {
  const creator = await context(PHONE);
  await creator.page.goto(`${setup.url}/settings`);
  await creator.page.getByRole("button", { name: "Sign in" }).first().click();
  const creatorDialog = creator.page.getByRole("dialog", { name: "Sign in" });
  await creatorDialog.getByLabel("Handle or e-mail").fill(setup.creator.handle);
  await creatorDialog.getByLabel("Password").fill(setup.creator.password);
  await creatorDialog.getByRole("button", { name: "Sign in" }).click();
  await creatorDialog.waitFor({ state: "hidden" });
  await creator.page.getByRole("link", { name: /^Notifications/ }).waitFor();
  await creator.page.evaluate(() => (window.notReloaded = true));
  // The clips' "ready" notifications are already unread: the badge shows their count first.
  await creator.page.getByTestId("unread-badge").waitFor();
  const badgeBefore = Number(await creator.page.getByTestId("unread-badge").textContent());

  const { ctx, page } = await context(PHONE);
  await page.goto(`${setup.url}/`);
  const clip = await playing(page);
  // Acting asks for an account: the field errors of the server's problem+json show beside the fields.
  await page.getByRole("button", { name: /^Like \d/ }).click();
  const dialog = page.getByRole("dialog", { name: /^(Sign in|Create account)$/ });
  await dialog.waitFor();
  await dialog.getByRole("button", { name: "New here? Create an account" }).click();
  await dialog.getByLabel("Handle").fill("viewer");
  await dialog.getByLabel("E-mail").fill("not-an-email");
  await dialog.getByLabel("Password").fill("short");
  await dialog.getByRole("button", { name: "Create account" }).click();
  await dialog.locator("#auth-email-error").waitFor();
  const fieldErrors = await dialog.locator(".error").allTextContents();
  const handle = `viewer${Date.now() % 100000}`;
  await dialog.getByLabel("Handle").fill(handle);
  await dialog.getByLabel("E-mail").fill(`${handle}@example.com`);
  await dialog.getByLabel("Password").fill("a long enough password");
  await dialog.getByRole("button", { name: "Create account" }).click();
  await dialog.waitFor({ state: "hidden" });

  // Like: the screen changes before the server answers (held back here for 1.5 s).
  const likes = page.locator('article[data-active="true"] [data-count="likes"]');
  const before = Number(await likes.textContent());
  let release;
  const held = new Promise((resolve) => (release = resolve));
  await page.route("**/v1/clips/*/like", async (route) => {
    await held;
    await route.continue();
  });
  await page.getByRole("button", { name: /^Like \d/ }).click();
  await page.getByRole("button", { name: /^Remove like \d/ }).waitFor({ timeout: 1000 });
  const optimistic = { pressed: true, count: Number(await likes.textContent()) };
  const confirmed = page.waitForResponse((r) => r.url().includes("/like") && r.request().method() === "PUT");
  release();
  const likeStatus = (await confirmed).status();
  await page.unroute("**/v1/clips/*/like");
  const server = await page.evaluate(async (id) => {
    const token = JSON.parse(localStorage.getItem("clipfeed.session")).access;
    const response = await fetch(`/v1/clips/${id}/engagement`, { headers: { Authorization: `Bearer ${token}` } });
    return response.json();
  }, clip.clip);

  // A refused unlike puts the like back and says so.
  await page.route("**/v1/clips/*/like", (route) => route.fulfill({ status: 503,
    contentType: "application/problem+json", body: JSON.stringify({ status: 503, title: "Unavailable",
      detail: "the database cannot be reached; retry shortly" }) }));
  await page.getByRole("button", { name: /^Remove like \d/ }).click();
  await page.getByRole("status").getByText("the database cannot be reached").waitFor();
  const rolledBack = await page.getByRole("button", { name: /^Remove like \d/ }).count();
  await page.unroute("**/v1/clips/*/like");

  // Comment, then reply to it.
  await page.getByRole("button", { name: /^Comments \d/ }).click();
  const drawer = page.getByRole("dialog", { name: /comment/ });
  await drawer.waitFor();
  await drawer.getByRole("textbox", { name: "Add a comment…" }).fill("First one here #nice");
  await drawer.getByRole("button", { name: "Post" }).click();
  await drawer.getByText("First one here #nice").waitFor();
  await drawer.getByRole("button", { name: "Reply" }).first().click();
  await drawer.getByText(`Reply to @${handle}`).waitFor();
  await drawer.getByRole("textbox", { name: "Add a comment…" }).fill("and a reply");
  await drawer.getByRole("button", { name: "Post" }).click();
  await drawer.locator(".replies").getByText("and a reply").waitFor();
  await shot(page, "comments-390x844");
  const drawerViolations = await axe(page);
  await page.keyboard.press("Escape");
  await drawer.waitFor({ state: "hidden" });

  // Send the clip to the creator inside Clipfeed.
  await page.getByRole("button", { name: /^Share \d/ }).click();
  const sheet = page.getByRole("dialog", { name: "Share" });
  await sheet.getByRole("textbox", { name: "Send to someone on Clipfeed" }).fill(`@${setup.creator.handle}`);
  const sent = page.waitForResponse((r) => r.url().endsWith("/shares") && r.request().method() === "POST");
  await sheet.getByRole("button", { name: "Send" }).click();
  const shareStatus = (await sent).status();
  await page.getByRole("status").getByText(`Sent to @${setup.creator.handle}`).waitFor();
  const shares = await page.locator('article[data-active="true"] button:has-text("Share")').textContent();
  // Boost it to the viewer's followers on other servers (this server federates with nobody: the
  // share still counts here).
  await page.getByRole("button", { name: /^Share \d/ }).click();
  const boosting = page.waitForResponse((r) => r.url().endsWith("/shares") && r.request().method() === "POST");
  await page.getByRole("dialog", { name: "Share" })
    .getByRole("button", { name: "Boost to my followers on the fediverse" }).click();
  const boostStatus = (await boosting).status();
  await page.getByRole("status").getByText("Boosted: your followers on other servers will see it").waitFor();
  const sharesAfterBoost = await page.locator('article[data-active="true"] button:has-text("Share")').textContent();

  // Follow the creator.
  const followed = page.waitForResponse((r) => r.url().includes("/follow") && r.request().method() === "PUT");
  await page.getByRole("button", { name: `Follow @${setup.creator.handle}` }).click();
  const followStatus = (await followed).status();
  const following = await page.getByRole("button", { name: `Unfollow @${setup.creator.handle}` }).count();
  // The followed creator's clips are in the Following tab.
  await page.getByRole("link", { name: "Following" }).click();
  const followingClip = await playing(page);
  const followingOwner = await page.locator('article[data-active="true"]').getAttribute("aria-label");

  // The creator's bell counts up live, without a reload.
  await creator.page.waitForFunction((before) => {
    const badge = document.querySelector('[data-testid="unread-badge"]');
    return badge && Number(badge.textContent) > before;
  }, badgeBefore, { timeout: 30000 });
  const badgeText = await creator.page.getByTestId("unread-badge").textContent();
  const notReloaded = await creator.page.evaluate(() => window.notReloaded === true);
  await creator.page.getByRole("link", { name: /^Notifications/ }).click();
  await creator.page.getByRole("listitem").first().waitFor();
  const inbox = await creator.page.locator("li .text").allTextContents();
  await shot(creator.page, "notifications-390x844");
  await creator.page.getByText("Notification settings").click();
  const saved = creator.page.waitForResponse((r) => r.url().endsWith("/v1/notifications/preferences")
    && r.request().method() === "PATCH");
  await creator.page.getByRole("checkbox", { name: "Shares" }).uncheck();
  const preferenceStatus = (await saved).status();
  const shareNotifications = await creator.page.evaluate(async () => {
    const token = JSON.parse(localStorage.getItem("clipfeed.session")).access;
    const response = await fetch("/v1/notifications/preferences", { headers: { Authorization: `Bearer ${token}` } });
    return (await response.json()).kinds.share;
  });
  const inboxViolations = await axe(creator.page);
  await creator.page.setViewportSize(DESKTOP);
  await shot(creator.page, "notifications-1440x900");
  await creator.page.setViewportSize(PHONE);
  // The creator opens the comment notification (the feed opens on the clip) and pins the comment.
  await creator.page.getByRole("button", { name: /commented on your clip/ }).first().click();
  await playing(creator.page);
  await creator.page.getByRole("button", { name: /^Comments \d/ }).click();
  const creatorDrawer = creator.page.getByRole("dialog", { name: /comment/ });
  await creatorDrawer.getByText("First one here #nice").waitFor();
  await creatorDrawer.getByRole("button", { name: "Pin" }).first().click();
  await creatorDrawer.getByText("Pinned", { exact: true }).waitFor();
  const pinnedFirst = await creatorDrawer.locator(".list > li").first().textContent();
  // The viewer's own profile lists the clip they liked.
  await page.getByRole("link", { name: "Profile", exact: true }).click();
  await page.getByRole("button", { name: "Liked" }).click();
  await page.getByRole("list", { name: "Liked" }).getByRole("link").first().waitFor();
  const likedList = await page.getByRole("list", { name: "Liked" }).getByRole("link").count();
  // A notification that arrives while the creator reads the list joins it, without a reload.
  await creator.page.keyboard.press("Escape");
  await creatorDrawer.waitFor({ state: "hidden" });
  await creator.page.getByRole("link", { name: /^Notifications/ }).click();
  await creator.page.locator("li .text").first().waitFor();
  await page.evaluate(async (id) => {
    const token = JSON.parse(localStorage.getItem("clipfeed.session")).access;
    await fetch(`/v1/clips/${id}/comments`, { method: "POST", body: JSON.stringify({ body: "one more while you read" }),
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" } });
  }, clip.clip);
  await creator.page.locator("li .excerpt", { hasText: "one more while you read" }).waitFor({ timeout: 30000 });
  const liveList = { notReloaded: await creator.page.evaluate(() => window.notReloaded === true),
    first: await creator.page.locator("li .excerpt").first().textContent(),
    when: await creator.page.locator("li time").first().textContent() };
  await ctx.close();
  await creator.ctx.close();
  return { handle, fieldErrors, before, optimistic, likeStatus, liked: server.liked_by_me, rolledBack,
    followStatus, following, followingClip, followingOwner, pinnedFirst, likedList, shareStatus, shares, boostStatus,
    sharesAfterBoost, preferenceStatus, shareNotifications,
    badgeBefore, badgeText, notReloaded, inbox, liveList,
    violations: [...drawerViolations, ...inboxViolations], errors: [...page.errors, ...creator.page.errors] };
});

// 4. Desktop layout and the other pages: screenshots and axe on each.
await journey("pages", async () => {
  const { ctx, page } = await context(DESKTOP);
  await page.goto(`${setup.url}/`);
  await playing(page);
  const layout = await page.evaluate(() => {
    const stage = document.querySelector('article[data-active="true"] .stage').getBoundingClientRect();
    const rail = document.querySelector('article[data-active="true"] .side').getBoundingClientRect();
    return { stageLeft: stage.left, stageRight: stage.right, railLeft: rail.left, width: innerWidth };
  });
  await shot(page, "feed-1440x900");
  const violations = { feed: await axe(page) };
  await page.goto(`${setup.url}/@${setup.creator.handle}`);
  await page.getByRole("heading", { name: setup.creator.handle }).waitFor();
  await page.getByRole("list", { name: "Clips" }).getByRole("link").first().waitFor();
  const gridItems = await page.getByRole("list", { name: "Clips" }).getByRole("link").count();
  await shot(page, "profile-1440x900");
  violations.profile = await axe(page);
  // The engage journey's viewer follows the creator: they are in the followers list.
  await page.getByRole("button", { name: /Followers$/ }).click();
  const followersDialog = page.getByRole("dialog", { name: "Followers" });
  await followersDialog.getByRole("link").first().waitFor();
  const followers = await followersDialog.getByRole("link").allTextContents();
  violations.followers = await axe(page);
  await page.keyboard.press("Escape");
  await followersDialog.waitFor({ state: "hidden" });
  await page.setViewportSize(PHONE);
  await shot(page, "profile-390x844");
  await page.goto(`${setup.url}/nowhere`);
  const missing = await page.getByRole("heading", { level: 1 }).textContent();
  await page.goto(`${setup.url}/settings`);
  await page.getByRole("combobox", { name: "Language" }).selectOption("fr");
  // Another language's strings load when it is chosen: the page changes a moment later.
  await page.getByRole("heading", { level: 1, name: "Réglages" }).waitFor({ timeout: 5000 }).catch(() => {});
  const french = await page.getByRole("heading", { level: 1 }).textContent();
  violations.settings = await axe(page);
  await ctx.close();
  return { layout, gridItems, followers, french, missing, violations: Object.values(violations).flat(), errors: page.errors };
});

// 5. Blocking a creator hides their clips; report; edit the profile; delete the account.
await journey("block_report_account", async () => {
  const { ctx, page } = await context(PHONE);
  await page.goto(`${setup.url}/settings`);
  const handle = `blocker${Date.now() % 100000}`;
  const password = "a long enough password";
  // Registered through the API (the sign-up form is the engage journey's), then signed in.
  await page.evaluate(async ([handle, password]) => {
    const response = await fetch("/v1/auth/register", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ handle, email: `${handle}@example.com`, password }) });
    const pair = await response.json();
    localStorage.setItem("clipfeed.session", JSON.stringify({ access: pair.access_token, refresh: pair.refresh_token,
      user: pair.user }));
  }, [handle, password]);
  await page.goto(`${setup.url}/@${setup.creator.handle}`);
  await page.getByRole("button", { name: `More options for @${setup.creator.handle}` }).click();
  await page.getByRole("menuitem", { name: `Block @${setup.creator.handle}` }).click();
  await page.getByRole("status").getByText("Blocked.").waitFor();
  const violations = await axe(page);
  await page.goto(`${setup.url}/`);
  await page.getByText("No clips yet: new ones show up here as soon as they are ready.").waitFor();
  const clipsAfterBlock = await page.locator("article[data-clip-id]").count();
  await page.goto(`${setup.url}/@${setup.creator.handle}`);
  await page.getByRole("button", { name: `More options for @${setup.creator.handle}` }).click();
  await page.getByRole("menuitem", { name: `Unblock @${setup.creator.handle}` }).click();
  await page.getByRole("status").getByText("Unblocked.").waitFor();
  await page.getByRole("button", { name: `More options for @${setup.creator.handle}` }).click();
  await page.getByRole("menuitem", { name: `Report @${setup.creator.handle}` }).click();
  await page.getByRole("combobox", { name: "Reason" }).selectOption("spam");
  const reported = page.waitForResponse((r) => r.url().endsWith("/v1/reports"));
  await page.getByRole("button", { name: "Send report" }).click();
  const reportStatus = (await reported).status();

  await page.goto(`${setup.url}/settings`);
  await page.getByRole("textbox", { name: "Bio" }).fill("I watch clips.");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByRole("status").getByText("Saved.").waitFor();
  const bio = await page.evaluate(async (handle) => (await (await fetch(`/v1/users/${handle}`)).json()).bio, handle);
  violations.push(...await axe(page));
  await page.getByLabel("Password").fill("not my password");
  await page.getByRole("button", { name: "Delete my account" }).click();
  await page.getByRole("button", { name: "Delete for good" }).click();
  const wrongPassword = await page.locator("#delete-error").textContent();
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Delete for good" }).click();
  await page.getByRole("button", { name: "Sign in" }).first().waitFor();
  const gone = await page.evaluate(async (handle) => (await fetch(`/v1/users/${handle}`)).status, handle);
  await ctx.close();
  return { clipsAfterBlock, reportStatus, bio, wrongPassword, gone, violations, errors: page.errors };
});

// 7. Keyboard only: Tab reaches the controls, Space pauses, m turns sound on, acting opens the
//    sign-in dialog with the focus inside, Escape closes it.
await journey("keyboard_only", async () => {
  const { ctx, page } = await context(PHONE);
  await page.goto(`${setup.url}/`);
  await playing(page);
  await page.keyboard.press("m");
  const sound = await page.$eval('article[data-active="true"] video', (v) => !v.muted);
  await page.keyboard.press("Space");
  await page.waitForTimeout(300);
  const paused = await page.$eval('article[data-active="true"] video', (v) => v.paused);
  await page.keyboard.press("Space");
  const names = [];
  let reachedLike = false;
  for (let i = 0; i < 25 && !reachedLike; i++) {
    await page.keyboard.press("Tab");
    const name = await page.evaluate(() => {
      const el = document.activeElement;
      return el ? (el.getAttribute("aria-label") || el.textContent || "").replace(/\s+/g, " ").trim() : "";
    });
    names.push(name);
    reachedLike = /^Like \d/.test(name);
  }
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog", { name: "Sign in" });
  await dialog.waitFor();
  const focusInDialog = await page.evaluate(() => Boolean(document.activeElement?.closest("dialog")));
  await page.keyboard.press("Escape");
  await dialog.waitFor({ state: "hidden" });
  await page.keyboard.press("ArrowDown");
  const moved = await playing(page);
  await ctx.close();
  return { sound, paused, names, reachedLike, focusInDialog, moved: moved.clip, errors: page.errors };
});

// 8. A slow network: hls.js adapts down to the lowest rendition (the first clip, on loopback
//    speed, plays at the start rendition or above).
await journey("throttled_network", async () => {
  const { ctx, page } = await context(PHONE);
  await page.goto(`${setup.url}/`);
  await playing(page);
  const active = 'article[data-active="true"]';
  await page.waitForFunction((s) => Number(document.querySelector(s)?.dataset.rendition) > 0, active);
  const fast = Number(await page.$eval(active, (a) => a.dataset.rendition));
  const cdp = await ctx.newCDPSession(page);
  await cdp.send("Network.enable");
  // 40 kB/s (320 kbit/s): below the lowest rung's bandwidth.
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 150, downloadThroughput: 40000,
    uploadThroughput: 40000 });
  // The next clip already waits buffered from before the drop; the one after it loads its
  // player on the slow network, so that is the one that must come down to the lowest rung.
  await page.keyboard.press("ArrowDown");
  await page.waitForTimeout(1500);
  await page.keyboard.press("ArrowDown");
  await page.waitForFunction((s) => Number(document.querySelector(s)?.dataset.rendition) === 240, active,
    { timeout: 40000 });
  const slow = Number(await page.$eval(active, (a) => a.dataset.rendition));
  await ctx.close();
  return { fast, slow, errors: page.errors };
});

// 6. The installable shell works offline (service worker on, then the network off).
await journey("offline_shell", async () => {
  const { ctx, page } = await context(PHONE, { serviceWorkers: "allow" });
  await page.goto(`${setup.url}/`);
  const manifest = await page.evaluate(async () => {
    const link = document.querySelector('link[rel="manifest"]');
    return link ? (await fetch(link.href)).json() : null;
  });
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise((resolve) => navigator.serviceWorker.addEventListener("controllerchange", resolve));
    }
  });
  await ctx.setOffline(true);
  await page.reload();
  const banner = await page.getByRole("alert").filter({ hasText: "No connection" }).textContent({ timeout: 5000 });
  const tabs = await page.getByRole("link", { name: "For You" }).count();
  await ctx.close();
  return { manifest: manifest && { name: manifest.name, icons: manifest.icons.length, display: manifest.display },
    banner, tabs };
});

await finish();
