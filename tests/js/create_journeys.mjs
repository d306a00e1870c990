// The creating side of the web app (/create) in Debian's Chromium with a fake camera, against a
// real server and a real media worker (started by tests/web/test_create_journeys.py). Each
// journey reports what it saw; pytest asserts on it.
//   node create_journeys.mjs '{"url", "creator", "artifacts", "camera" (.y4m), "files": {...}, "journeys": [...]}'
// Prints one JSON line: {journey: {ok, error?, ...what it measured}}.
import { axe, context, DESKTOP, finish, journey, PHONE, setup, shot } from "./harness.mjs";

const READY_MS = 300_000; // a loaded 2-core machine runs the whole ladder for each clip
let signedIn = null; // the creator's storage state once signed in through the page

/** Every tus request of the page: method, status, offsets, tus headers sent, when it went out
 *  (ms since the epoch), and the address of the last upload created. */
function watchTus(page) {
  const seen = { requests: [], location: null };
  const sentAt = new Map();
  page.on("request", (request) => sentAt.set(request, Date.now()));
  page.on("requestfinished", async (request) => {
    if (!request.url().includes("/v1/uploads/")) return;
    const response = await request.response();
    const headers = response ? await response.allHeaders() : {};
    const sent = request.headers();
    if (request.method() === "POST" && headers.location) seen.location = headers.location;
    seen.requests.push({ method: request.method(), status: response?.status() ?? 0, at: sentAt.get(request) ?? null,
      offset: sent["upload-offset"] ?? null, newOffset: headers["upload-offset"] ?? null,
      length: sent["upload-length"] ?? null, deferLength: sent["upload-defer-length"] ?? null,
      concat: sent["upload-concat"] ?? null, location: headers.location ?? null });
  });
  page.on("requestfailed", (request) => {
    if (request.url().includes("/v1/uploads/")) {
      seen.requests.push({ method: request.method(), status: 0, failure: request.failure()?.errorText ?? "" });
    }
  });
  return seen;
}

/** The JSON the server answers to the signed-in page for `path`. */
async function apiGet(page, path) {
  return page.evaluate(async (url) => {
    const token = JSON.parse(localStorage.getItem("clipfeed.session")).access;
    const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
    return { status: response.status, body: await response.json() };
  }, path);
}

/** Picks a file and sends it as it is: when the page offers to compress it first (it judges the
 *  uplink, which a loaded machine's loopback can make look slow), "Send the original". */
async function pickFile(page, path) {
  await page.getByRole("button", { name: "Upload a file" }).click();
  await page.locator('input[type="file"]').setInputFiles(path);
  const editor = page.locator(".editor").first();
  const skip = page.getByRole("button", { name: "Send the original" });
  await skip.or(editor).first().waitFor({ timeout: 60000 });
  if (await skip.isVisible()) await skip.click({ timeout: 5000 }).catch(() => undefined);
  await throughEditor(page);
  await page.getByLabel("Caption").waitFor();
}

/** The editor step (editor_journeys.mjs tests it), left with no edits. */
async function throughEditor(page) {
  await page.locator(".editor").first().waitFor({ timeout: 30000 });
  await page.getByRole("button", { name: "Next" }).click();
}

/** Waits until the clip's processing settles; returns the upload card's final state. */
async function settled(page) {
  const card = page.locator("article.upload").first();
  await page.waitForFunction(() => {
    const article = document.querySelector("article.upload");
    return article && (["ready", "rejected", "failed", "review"].includes(article.dataset.status)
      || ["rejected", "failed"].includes(article.dataset.phase));
  }, null, { timeout: READY_MS, polling: 500 });
  return { phase: await card.getAttribute("data-phase"), status: await card.getAttribute("data-status"),
    text: (await card.textContent()).replace(/\s+/g, " ").trim() };
}

/** Opens the clip page from the "Watch your clip" link and waits for its video to play. */
async function watch(page) {
  await page.getByRole("link", { name: "Watch your clip" }).click();
  await page.waitForURL(/\/c\/\d+$/);
  await page.waitForFunction(() => {
    const video = document.querySelector('article[data-active="true"] video');
    return video && !video.paused && video.currentTime > 0.3 && video.videoWidth > 0;
  }, null, { timeout: 30000 });
  return page.$eval('article[data-active="true"]', (article) => {
    const video = article.querySelector("video");
    return { clip: article.dataset.clipId, currentTime: video.currentTime, videoWidth: video.videoWidth,
      videoHeight: video.videoHeight, url: location.pathname };
  });
}

// 1. An anonymous visitor on /create is asked to sign in; signing in there opens the recorder.
await journey("anonymous_asked_to_sign_in", async () => {
  const { ctx, page } = await context(PHONE);
  await page.goto(`${setup.url}/create`);
  const heading = await page.getByRole("heading", { level: 1 }).textContent();
  const prompt = await page.getByText("Sign in to post clips.").isVisible();
  const recorderBefore = await page.getByRole("button", { name: "Start recording" }).count();
  await shot(page, "create-anonymous-390x844");
  const violations = await axe(page);
  await page.locator("main").getByRole("button", { name: "Sign in" }).click();
  const dialog = page.getByRole("dialog", { name: "Sign in" });
  await dialog.getByLabel("Handle or e-mail").fill(setup.creator.handle);
  await dialog.getByLabel("Password").fill(setup.creator.password);
  await dialog.getByRole("button", { name: "Sign in" }).click();
  await dialog.waitFor({ state: "hidden" });
  await page.getByRole("button", { name: "Start recording" }).waitFor();
  signedIn = await ctx.storageState();
  await ctx.close();
  return { heading, prompt, recorderBefore, violations, errors: page.errors };
});

// 2. A file from the shared media: chosen, captioned, uploaded in chunks, processed, ready, playing.
await journey("pick_file", async () => {
  const { ctx, page } = await context(PHONE, { storageState: signedIn });
  const tus = watchTus(page);
  await page.goto(`${setup.url}/create`);
  // The creator follows someone, to mention them.
  const friend = `lena${Date.now() % 100000}`;
  const followStatus = await page.evaluate(async (handle) => {
    const made = await fetch("/v1/auth/register", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ handle, email: `${handle}@example.com`, password: "a long enough password" }) });
    if (made.status !== 201) return made.status;
    const token = JSON.parse(localStorage.getItem("clipfeed.session")).access;
    return (await fetch(`/v1/users/@${handle}/follow`, { method: "PUT", headers: { Authorization: `Bearer ${token}` } })).status;
  }, friend);
  await pickFile(page, setup.files.pick);
  const caption = page.getByLabel("Caption");
  await caption.fill("The classic test sequence #carphone");
  await caption.pressSequentially(" with @len", { delay: 40 });
  const option = page.getByRole("option", { name: new RegExp(`@${friend}`) });
  await option.waitFor({ timeout: 10000 });
  const mention = (await option.textContent()).trim();
  await shot(page, "create-mention-390x844");
  await caption.press("ArrowDown"); // one option: the list wraps round to it
  await caption.press("Enter");
  const typed = await caption.inputValue();
  await page.getByLabel("Who can watch").selectOption("public");
  await shot(page, "create-post-390x844");
  const formViolations = await axe(page);
  await page.getByRole("button", { name: "Post" }).click();
  await page.locator("article.upload").waitFor();
  await shot(page, "create-uploading-390x844");
  const final = await settled(page);
  await shot(page, "create-ready-390x844");
  const readyViolations = await axe(page);
  const uploadId = tus.location?.split("/").pop();
  const upload = uploadId ? (await apiGet(page, `/v1/uploads/${uploadId}`)).body : null;
  const played = final.status === "ready" ? await watch(page) : null;
  const clip = played ? (await apiGet(page, `/v1/clips/${played.clip}`)).body : null;
  await ctx.close();
  return { friend, followStatus, mention, typed, final, upload, played, clip, requests: tus.requests,
    violations: [...formViolations, ...readyViolations],
    errors: page.errors };
});

// 3. Record with the fake camera: a 3 s countdown, a 3 s take, a second take deleted, then a
//    caption whose hashtag comes from the autocomplete, upload, ready, and the clip page plays it.
await journey("record_and_post", async () => {
  const { ctx, page } = await context(PHONE, { storageState: signedIn });
  await page.goto(`${setup.url}/create`);
  const start = page.getByRole("button", { name: "Start recording" });
  await start.waitFor();
  await page.waitForFunction(() => document.querySelector("video")?.videoWidth > 0);
  const recorderViolations = await axe(page);
  const clicked = Date.now();
  await start.click();
  await page.getByText("3", { exact: true }).waitFor();
  await shot(page, "create-countdown-390x844");
  const stop = page.getByRole("button", { name: "Stop recording" });
  await stop.waitFor({ timeout: 6000 });
  const countdownMs = Date.now() - clicked;
  await page.waitForTimeout(3000);
  await shot(page, "create-recording-390x844");
  await stop.click();
  await page.getByText(/^Take 1, /).waitFor();
  // A second take, then deleted.
  await start.click();
  await stop.waitFor({ timeout: 6000 });
  await page.waitForTimeout(1200);
  await stop.click();
  await page.getByText(/^Take 2, /).waitFor();
  const takesBefore = await page.locator(".takes li").allTextContents();
  await page.getByRole("button", { name: "Delete take 2" }).click();
  const takesAfter = await page.locator(".takes li").allTextContents();
  await shot(page, "create-takes-390x844");
  await page.getByRole("button", { name: "Next" }).click();
  await throughEditor(page);
  const caption = page.getByLabel("Caption");
  await caption.waitFor();
  await caption.pressSequentially("Recorded in the browser #carph", { delay: 40 });
  const option = page.getByRole("option", { name: /#carphone/ });
  await option.waitFor({ timeout: 10000 });
  await shot(page, "create-hashtag-390x844");
  const suggestion = (await option.textContent()).trim();
  await caption.press("Enter");
  await caption.pressSequentially("from the fake camera");
  const typed = await caption.inputValue();
  await page.getByRole("button", { name: "Post" }).click();
  const final = await settled(page);
  const played = final.status === "ready" ? await watch(page) : null;
  const clip = played ? (await apiGet(page, `/v1/clips/${played.clip}`)).body : null;
  await shot(page, "create-recorded-clip-390x844");
  await ctx.close();
  return { countdownMs, takesBefore, takesAfter, suggestion, typed, final, played, clip,
    violations: recorderViolations, errors: page.errors };
});

// 4. The connection drops mid-upload (DevTools offline) and comes back: the upload continues from
//    the server's offset and the clip becomes ready; the stored file is the file sent.
await journey("offline_then_resume", async () => {
  const { ctx, page } = await context(PHONE, { storageState: signedIn });
  const tus = watchTus(page);
  const cdp = await ctx.newCDPSession(page);
  await cdp.send("Network.enable");
  const network = (offline, uploadThroughput = -1) => cdp.send("Network.emulateNetworkConditions",
    { offline, latency: 0, downloadThroughput: -1, uploadThroughput });
  await page.goto(`${setup.url}/create`);
  await pickFile(page, setup.files.large);
  await page.getByLabel("Caption").fill("Survives a dropped connection");
  await network(false, 1_500_000); // 12 Mbit/s up: the upload lasts several seconds
  const firstChunk = page.waitForResponse((r) => r.request().method() === "PATCH" && r.status() === 204, { timeout: 60000 });
  await page.getByRole("button", { name: "Post" }).click();
  await firstChunk;
  await network(true);
  const offlineText = page.getByText("Connection lost. The upload continues when you are back online.");
  await offlineText.waitFor({ timeout: 20000 });
  const sentWhenOffline = await page.getByTestId("upload-sent").textContent();
  await shot(page, "create-offline-390x844");
  await page.waitForTimeout(2000);
  await network(false);
  await page.getByText(/^Continuing from /).waitFor({ timeout: 20000 });
  const resumedText = await page.getByText(/^Continuing from /).textContent();
  const final = await settled(page);
  const uploadId = tus.location?.split("/").pop();
  const upload = uploadId ? (await apiGet(page, `/v1/uploads/${uploadId}`)).body : null;
  await ctx.close();
  return { sentWhenOffline, resumedText, final, upload, requests: tus.requests, errors: page.errors };
});

// 4b. Reloaded mid-upload: the page lists the unfinished upload; the same file chosen again
//     continues from the server's offset with the caption given the first time.
await journey("reload_then_resume", async () => {
  const { ctx, page } = await context(PHONE, { storageState: signedIn });
  const tus = watchTus(page);
  const cdp = await ctx.newCDPSession(page);
  await cdp.send("Network.enable");
  await page.goto(`${setup.url}/create`);
  await pickFile(page, setup.files.large); // on loopback: sent as it is, not compressed
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1,
    uploadThroughput: 1_500_000 });
  await page.getByLabel("Caption").fill("Survives a reload #reloaded");
  const firstChunk = page.waitForResponse((r) => r.request().method() === "PATCH" && r.status() === 204, { timeout: 60000 });
  await page.getByRole("button", { name: "Post" }).click();
  await firstChunk;
  // Paused: nothing is sent until it resumes.
  await page.getByRole("button", { name: "Pause upload" }).click();
  await page.getByText("Paused.").waitFor();
  const pausedAt = tus.requests.length;
  await page.waitForTimeout(1500);
  const sentWhilePaused = tus.requests.slice(pausedAt).filter((r) => r.method === "PATCH" && r.status === 204).length;
  const resumed = page.waitForResponse((r) => r.request().method() === "PATCH" && r.status() === 204, { timeout: 60000 });
  await page.getByRole("button", { name: "Resume upload" }).click();
  await resumed;
  await page.reload(); // still throttled: the last chunk is on its way
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await page.getByRole("heading", { name: /^Unfinished uploads/ }).waitFor();
  const unfinished = await page.locator(".unfinished li").allTextContents();
  await shot(page, "create-unfinished-390x844");
  await page.getByRole("button", { name: "Upload a file" }).click();
  await page.locator('input[type="file"]').setInputFiles(setup.files.large);
  await page.getByText(/^Continuing from /).waitFor({ timeout: 20000 });
  const resumedText = await page.getByText(/^Continuing from /).textContent();
  const final = await settled(page);
  const uploadId = tus.location?.split("/").pop();
  const upload = uploadId ? (await apiGet(page, `/v1/uploads/${uploadId}`)).body : null;
  const clip = upload?.clip_id ? (await apiGet(page, `/v1/clips/${upload.clip_id}`)).body : null;
  await ctx.close();
  return { sentWhilePaused, unfinished, resumedText, final, upload, clip, requests: tus.requests,
    errors: page.errors };
});

// 4c. Two takes are joined into one clip before upload.
await journey("two_takes_joined", async () => {
  const { ctx, page } = await context(PHONE, { storageState: signedIn });
  await page.goto(`${setup.url}/create`);
  const start = page.getByRole("button", { name: "Start recording" });
  const stop = page.getByRole("button", { name: "Stop recording" });
  for (const number of [1, 2]) {
    await start.click();
    await stop.waitFor({ timeout: 6000 });
    await page.waitForTimeout(2000);
    await stop.click();
    await page.getByText(new RegExp(`^Take ${number}, `)).waitFor();
  }
  const takes = await page.locator(".takes li").allTextContents();
  await page.getByRole("button", { name: "Next" }).click();
  await page.getByText("Joining 2 takes…").first().waitFor();
  await shot(page, "create-joining-390x844");
  await throughEditor(page);
  await page.getByLabel("Caption").waitFor({ timeout: 30000 });
  await page.getByLabel("Caption").fill("Two takes, one clip");
  await page.getByRole("button", { name: "Post" }).click();
  const final = await settled(page);
  const clipId = await page.evaluate(() => document.querySelector("article.upload a")?.getAttribute("href")?.split("/").pop());
  const clip = clipId ? (await apiGet(page, `/v1/clips/${clipId}`)).body : null;
  await ctx.close();
  return { takes, final, clip, errors: page.errors };
});

// 5. Bad files from the shared media are refused with the server's reason in plain words.
await journey("bad_files", async () => {
  const { ctx, page } = await context(PHONE, { storageState: signedIn });
  const seen = {};
  for (const [name, path] of Object.entries(setup.files.bad)) {
    await page.goto(`${setup.url}/create`);
    await pickFile(page, path);
    await page.getByLabel("Caption").fill(`bad file ${name}`);
    await page.getByRole("button", { name: "Post" }).click();
    const final = await settled(page);
    const alert = await page.locator("article.upload [role=alert]").textContent();
    seen[name] = { ...final, alert };
    await shot(page, `create-rejected-${name}-390x844`);
  }
  const violations = await axe(page);
  await ctx.close();
  return { seen, violations, errors: page.errors };
});

// 5b. A browser that refuses the camera, or cannot record: the page says so, and a file can
//     still be posted. (The refusal is the browser's own error, raised by a stand-in for
//     getUserMedia: the fake-UI flag of this Chromium always grants.)
await journey("camera_problems", async () => {
  const seen = {};
  const cases = {
    denied: () => { navigator.mediaDevices.getUserMedia = async () => { throw new DOMException("denied", "NotAllowedError"); }; },
    noRecorder: () => { delete window.MediaRecorder; },
  };
  for (const [name, script] of Object.entries(cases)) {
    const { ctx, page } = await context(PHONE, { storageState: signedIn });
    await page.addInitScript(script);
    await page.goto(`${setup.url}/create`);
    const alert = page.getByRole("alert");
    await alert.waitFor();
    seen[name] = { alert: await alert.textContent(), canPick: await page.getByRole("button", { name: "Upload a file" }).isEnabled() };
    await shot(page, `create-camera-${name}-390x844`);
    seen[name].violations = await axe(page);
    seen[name].errors = page.errors;
    await ctx.close();
  }
  return { seen };
});

// 6. Desktop: the post form beside its preview.
await journey("desktop", async () => {
  const { ctx, page } = await context(DESKTOP, { storageState: signedIn });
  await page.goto(`${setup.url}/create`);
  await page.getByRole("button", { name: "Start recording" }).waitFor();
  await shot(page, "create-record-1440x900");
  await pickFile(page, setup.files.pick);
  await shot(page, "create-post-1440x900");
  const preview = await page.locator("video.preview").boundingBox();
  const caption = await page.getByLabel("Caption").boundingBox();
  const violations = await axe(page);
  await ctx.close();
  return { besides: preview.x + preview.width <= caption.x, violations, errors: page.errors };
});

/** When the page's encoder wrote its last byte (ms since the epoch), or null. */
async function encodedAt(page) {
  return page.evaluate(() => {
    const mark = performance.getEntriesByName("clipfeed:encoded")[0];
    return mark ? performance.timeOrigin + mark.startTime : null;
  });
}

// 7. A large phone file on a slow uplink (DevTools throttled to 4 Mbit/s up) is compressed in the
//    browser first: progress, the saving shown, then uploaded and ready; the server stores the
//    compressed file. Its bytes go up while it is being encoded (a partial tus upload of deferred
//    length), and the post makes the clip from them (a final upload with the caption).
await journey("compress_large_file", async () => {
  const { ctx, page } = await context(PHONE, { storageState: signedIn });
  const tus = watchTus(page);
  const cdp = await ctx.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 20, downloadThroughput: -1,
    uploadThroughput: 500_000 });
  await page.goto(`${setup.url}/create`);
  await page.getByRole("button", { name: "Upload a file" }).click();
  await page.locator('input[type="file"]').setInputFiles(setup.files.phone);
  await page.getByRole("heading", { name: "Compressing for upload" }).waitFor({ timeout: 60000 });
  await page.getByRole("progressbar", { name: "Compression progress" }).waitFor();
  const expected = await page.getByText(/ → about /).textContent();
  await shot(page, "create-compressing-390x844");
  const compressingViolations = await axe(page);
  const note = page.getByTestId("compress-note");
  // Sending while it encodes (the line appears with the first bytes sent).
  const sentLine = page.getByTestId("compress-sent");
  await sentLine.or(note).first().waitFor({ timeout: 240000 });
  const sentWhileCompressing = await sentLine.textContent({ timeout: 1000 }).catch(() => null);
  if (sentWhileCompressing) await shot(page, "create-compressing-sent-390x844");
  await note.waitFor({ timeout: 240000 });
  const saving = await note.textContent();
  await shot(page, "create-compressed-390x844");
  await throughEditor(page);
  await page.getByLabel("Caption").fill("Compressed in the browser #compressed");
  await page.getByRole("button", { name: "Post" }).click();
  const final = await settled(page);
  await shot(page, "create-compressed-ready-390x844");
  const uploadId = tus.location?.split("/").pop();
  const upload = uploadId ? (await apiGet(page, `/v1/uploads/${uploadId}`)).body : null;
  const clip = upload?.clip_id ? (await apiGet(page, `/v1/clips/${upload.clip_id}`)).body : null;
  const encoded = await encodedAt(page);
  await ctx.close();
  return { expected, saving, sentWhileCompressing, final, upload, clip, encoded, requests: tus.requests,
    violations: compressingViolations, errors: page.errors };
});

// 7b. The same on a desktop, where the creator chooses to send the original instead.
await journey("compress_skipped", async () => {
  const { ctx, page } = await context(DESKTOP, { storageState: signedIn });
  const cdp = await ctx.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 20, downloadThroughput: -1,
    uploadThroughput: 500_000 });
  const tus = watchTus(page);
  await page.goto(`${setup.url}/create`);
  // The encoded file's upload is created with its first bytes; "Send the original" once it is.
  const created = page.waitForResponse((response) => response.request().method() === "POST"
    && response.url().endsWith("/v1/uploads/"), { timeout: 120000 });
  await page.getByRole("button", { name: "Upload a file" }).click();
  await page.locator('input[type="file"]').setInputFiles(setup.files.phone);
  await page.getByRole("heading", { name: "Compressing for upload" }).waitFor({ timeout: 60000 });
  await shot(page, "create-compressing-1440x900");
  const partial = (await created).headers().location;
  const deleted = page.waitForResponse((response) => response.request().method() === "DELETE", { timeout: 30000 });
  await page.getByRole("button", { name: "Send the original" }).click();
  const note = await page.getByTestId("compress-note").textContent({ timeout: 20000 });
  const deleteStatus = (await deleted).status();
  const partialAfter = (await apiGet(page, new URL(partial).pathname)).status;
  await throughEditor(page);
  const caption = await page.getByLabel("Caption").isVisible();
  await shot(page, "create-compress-skipped-1440x900");
  const violations = await axe(page);
  await ctx.close();
  return { note, caption, deleteStatus, partialAfter, requests: tus.requests, violations, errors: page.errors };
});

// 8. Holding the record button records while it is held (the mouse, then Space), with no
//    countdown; the takes are kept on the device: after a reload they are back, one is posted
//    as the clip's file would be (the caption step opens on it), and "Discard all takes" forgets them.
await journey("hold_to_record_and_reload", async () => {
  const { ctx, page } = await context(PHONE, { storageState: signedIn });
  await page.goto(`${setup.url}/create`);
  const start = page.getByRole("button", { name: "Start recording" });
  await start.waitFor();
  await page.waitForFunction(() => document.querySelector("video")?.videoWidth > 0);
  await page.waitForFunction(() => !document.querySelector(".shutter")?.disabled);
  const box = await start.boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  const stop = page.getByRole("button", { name: "Stop recording" });
  await stop.waitFor({ timeout: 5000 }); // recording while held, no 3 s countdown
  const countdownWhileHeld = await page.locator(".count").count();
  await page.waitForTimeout(2000);
  await shot(page, "create-holding-390x844");
  await page.mouse.up();
  await page.getByText(/^Take 1, /).waitFor();
  const afterMouse = { recording: await stop.count(), takes: await page.locator(".takes li").allTextContents() };
  // Space held on the focused button.
  await start.focus();
  await page.keyboard.down(" ");
  await stop.waitFor({ timeout: 5000 });
  await page.waitForTimeout(1500);
  await page.keyboard.up(" ");
  await page.getByText(/^Take 2, /).waitFor();
  const afterSpace = { recording: await stop.count(), takes: await page.locator(".takes li").allTextContents() };
  const recorderViolations = await axe(page);
  // Reloaded: both takes are back.
  await page.waitForTimeout(500); // the second take's write to IndexedDB
  await page.reload();
  const restored = page.getByTestId("takes-restored");
  await restored.waitFor({ timeout: 10000 });
  const restoredText = await restored.textContent();
  const takesAfterReload = await page.locator(".takes li").allTextContents();
  await shot(page, "create-takes-restored-390x844");
  // A restored take still plays: it opens the caption step with its preview.
  await page.getByRole("button", { name: "Delete take 2" }).click();
  await page.getByRole("button", { name: "Next" }).click();
  await throughEditor(page);
  await page.getByLabel("Caption").waitFor();
  await page.waitForFunction(() => document.querySelector("video.preview")?.videoWidth > 0, null, { timeout: 10000 });
  const previewWidth = await page.$eval("video.preview", (video) => video.videoWidth);
  await page.getByRole("button", { name: "Back" }).click(); // to the editor
  await page.locator(".editor").first().waitFor();
  await page.getByRole("button", { name: "Back" }).first().click(); // to the camera
  await page.getByRole("button", { name: "Discard all takes" }).click();
  await page.locator(".takes").waitFor({ state: "detached" }); // the list empties once they are off the device
  const takesAfterDiscard = await page.locator(".takes li").count();
  await page.reload();
  await page.getByRole("button", { name: "Start recording" }).waitFor();
  await page.waitForTimeout(1000);
  const restoredAfterDiscard = await page.getByTestId("takes-restored").count();
  await ctx.close();
  return { countdownWhileHeld, afterMouse, afterSpace, restoredText, takesAfterReload, previewWidth,
    takesAfterDiscard, restoredAfterDiscard, violations: recorderViolations, errors: page.errors };
});

await finish();
