// The video editor of the web app (/create's edit step, the studio's re-edit) in Debian's Chromium
// with a fake camera, against a real server and a real media worker (started by
// tests/web/test_editor_journeys.py). Each journey reports what it saw; pytest asserts on it,
// including the pixel comparisons (preview screenshots against server-rendered frames).
//   node editor_journeys.mjs '{"url", "creator", "artifacts", "files": {...}, "journeys": [...]}'
import { writeFileSync } from "node:fs";
import { join } from "node:path";

import { axe, context, DESKTOP, finish, journey, PHONE, setup, shot } from "./harness.mjs";

const READY_MS = 300_000; // a loaded 2-core machine runs the whole ladder
let signedIn = null;
let posted = null; // the clip the first journey posts: {id, token}

async function apiGet(page, path) {
  return page.evaluate(async (url) => {
    const token = JSON.parse(localStorage.getItem("clipfeed.session")).access;
    const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
    return { status: response.status, body: await response.json() };
  }, path);
}

async function signIn(page, handle, password) {
  await page.locator("main").getByRole("button", { name: "Sign in" }).click();
  const dialog = page.getByRole("dialog", { name: "Sign in" });
  await dialog.getByLabel("Handle or e-mail").fill(handle);
  await dialog.getByLabel("Password").fill(password);
  await dialog.getByRole("button", { name: "Sign in" }).click();
  await dialog.waitFor({ state: "hidden" });
}

/** Waits until the media worker has made the sound library (it does so when it starts). */
async function soundsReady(page) {
  for (let i = 0; i < 120; i += 1) {
    const { body } = await apiGet(page, "/v1/sounds");
    if (body.items?.length >= 5) return body.items;
    await page.waitForTimeout(500);
  }
  throw new Error("the sound library was not made");
}

async function drag(page, locator, dx, dy) {
  await locator.scrollIntoViewIfNeeded();
  const box = await locator.boundingBox();
  const x = box.x + box.width / 2;
  const y = box.y + box.height / 2;
  await page.mouse.move(x, y);
  await page.mouse.down();
  for (let step = 1; step <= 5; step += 1) await page.mouse.move(x + (dx * step) / 5, y + (dy * step) / 5);
  await page.mouse.up();
}

const valueOf = async (locator) => Number(await locator.getAttribute("aria-valuenow"));

/** Two screenshots of the preview, with and without the overlay canvas, and its geometry:
 * pytest finds the overlay's box from their difference. */
async function previewShots(page, name) {
  const frame = page.locator(".editor .frame");
  await page.evaluate(() => document.activeElement?.blur());
  await page.evaluate(() => document.fonts.ready);
  await page.waitForTimeout(300);
  const withPath = join(setup.artifacts, `${name}-with.png`);
  const withoutPath = join(setup.artifacts, `${name}-without.png`);
  await frame.screenshot({ path: withPath });
  await page.evaluate(() => (document.querySelector(".editor .frame canvas").style.visibility = "hidden"));
  await frame.screenshot({ path: withoutPath });
  await page.evaluate(() => (document.querySelector(".editor .frame canvas").style.visibility = ""));
  const geometry = await page.evaluate(() => {
    const video = document.querySelector(".editor .frame video");
    const frameBox = document.querySelector(".editor .frame").getBoundingClientRect();
    const canvas = document.querySelector(".editor .frame canvas").getBoundingClientRect();
    return { picture: [video.videoWidth, video.videoHeight], currentTime: video.currentTime,
      canvas: [canvas.left - frameBox.left, canvas.top - frameBox.top, canvas.width, canvas.height],
      editedTime: Number(document.querySelector("[data-edited-time]").dataset.editedTime),
      fontLoaded: document.fonts.check("20px ClipfeedOverlay") };
  });
  return { with: withPath, without: withoutPath, ...geometry };
}

// 1. Record 3 s → trim (keyboard and mouse) → speed tried → text overlay typed, coloured,
//    resized, dragged → cover → a library sound → preview → caption with a hashtag from the
//    autocomplete → upload → ready → a second person's feed plays it with the text in the picture.
await journey("record_edit_post", async () => {
  const { ctx, page } = await context(PHONE);
  await page.goto(`${setup.url}/create`);
  await signIn(page, setup.creator.handle, setup.creator.password);
  signedIn = await ctx.storageState();
  const sounds = await soundsReady(page);
  const start = page.getByRole("button", { name: "Start recording" });
  await start.waitFor();
  await page.waitForFunction(() => document.querySelector("video")?.videoWidth > 0);
  await start.click();
  const stop = page.getByRole("button", { name: "Stop recording" });
  await stop.waitFor({ timeout: 6000 });
  await page.waitForTimeout(3000);
  await stop.click();
  await page.getByText(/^Take 1, /).waitFor();
  await page.getByRole("button", { name: "Next" }).click();

  // The editor, with its filmstrip made from the recording.
  const startHandle = page.getByRole("slider", { name: "Start of the clip" });
  const endHandle = page.getByRole("slider", { name: "End of the clip" });
  await startHandle.waitFor({ timeout: 30000 });
  await page.waitForFunction(() => document.querySelectorAll(".editor .thumbs img").length === 8, null, { timeout: 30000 });
  const thumbs = await page.$$eval(".editor .thumbs img", (imgs) => imgs.map((img) => img.naturalWidth > 0 && img.src.startsWith("data:image/jpeg")));
  const duration = Number(await endHandle.getAttribute("aria-valuemax"));
  await startHandle.focus();
  for (let i = 0; i < 3; i += 1) await startHandle.press("ArrowRight");
  const trimStartKeyed = await valueOf(startHandle);
  const stripBox = await page.locator(".editor .strip").boundingBox();
  await drag(page, endHandle, -stripBox.width * 0.1, 0);
  const trimEndDragged = await valueOf(endHandle);

  // Speed: tried at 2×, kept at 1×.
  await page.getByLabel("2×").check();
  const rateAt2 = await page.$eval(".editor .frame video", (v) => v.playbackRate);
  await page.getByLabel("1×").check();

  // A text: typed, coloured (swatch, then the custom colour picker), resized, dragged, nudged.
  await page.getByRole("button", { name: "Add text" }).click();
  await page.getByRole("textbox", { name: "Text 1" }).fill("Hi Clipfeed");
  await page.getByRole("radio", { name: "Colour #ffd400" }).check();
  await page.locator('.editor input[type="color"]').fill("#ff00ff");
  await page.getByLabel("Size").fill("0.08");
  const overlay = page.getByRole("button", { name: "Text 1: Hi Clipfeed" });
  await overlay.scrollIntoViewIfNeeded();
  const before = await overlay.boundingBox();
  await drag(page, overlay, 0, -120);
  const after = await overlay.boundingBox();
  await overlay.focus();
  await overlay.press("ArrowLeft");
  await overlay.press("ArrowLeft");
  const nudged = await overlay.boundingBox();

  // A sound from the library: listened to, chosen, balanced.
  await page.getByRole("button", { name: "Listen to Arpeggio" }).click();
  await page.waitForFunction(() => [...document.querySelectorAll("audio")].some((a) => !a.paused && a.currentTime > 0.2),
    null, { timeout: 10000 });
  await page.getByRole("button", { name: "Stop Arpeggio" }).click();
  await page.getByRole("radio", { name: /Arpeggio/ }).check();
  await page.getByLabel(/^Balance/).fill("0.75");

  // The preview plays the trimmed range with the sound.
  await page.getByRole("button", { name: "Play preview" }).click();
  await page.waitForTimeout(1500);
  const playing = await page.evaluate(() => {
    const video = document.querySelector(".editor .frame video");
    const audio = document.querySelector(".editor .frame audio");
    return { videoPaused: video.paused, currentTime: video.currentTime, rate: video.playbackRate,
      audioPaused: audio.paused, audioVolume: audio.volume, videoVolume: video.volume };
  });
  await page.getByRole("button", { name: "Pause preview" }).click();

  // The cover at 1 s also shows that frame, paused: the moment compared with the server's render.
  await page.getByLabel("Cover frame time").fill("1");
  await page.waitForFunction(() => document.querySelector(".editor .frame video").paused);
  await page.waitForTimeout(500);
  const preview = await previewShots(page, "editor-preview");
  await shot(page, "editor-390x844");
  await shot(page, "editor-full-390x844", { fullPage: true });
  const violations = await axe(page);

  await page.getByRole("button", { name: "Next" }).click();
  const caption = page.getByLabel("Caption");
  await caption.waitFor();
  await caption.pressSequentially("Edited in the browser #kick", { delay: 40 });
  const option = page.getByRole("option", { name: /#kickflip/ });
  await option.waitFor({ timeout: 10000 });
  await caption.press("Enter");
  const typed = await caption.inputValue();
  await page.getByRole("button", { name: "Post" }).click();
  await page.waitForFunction(() => {
    const article = document.querySelector("article.upload");
    return article && (["ready", "rejected", "failed", "review"].includes(article.dataset.status)
      || ["rejected", "failed"].includes(article.dataset.phase));
  }, null, { timeout: READY_MS, polling: 500 });
  const status = await page.locator("article.upload").first().getAttribute("data-status");
  const clipId = await page.evaluate(() => document.querySelector("article.upload a")?.getAttribute("href")?.split("/").pop());
  const clip = clipId ? (await apiGet(page, `/v1/clips/${clipId}`)).body : null;
  const edits = clipId ? (await apiGet(page, `/v1/clips/${clipId}/edits`)).body.edits : null;
  const token = await page.evaluate(() => JSON.parse(localStorage.getItem("clipfeed.session")).access);
  posted = { id: clipId, token };
  await ctx.close();

  // A second person watches it in their feed; a frame of the playing video is kept.
  const viewer = await context(PHONE);
  const handle = `viewer${Date.now() % 100000}`;
  await viewer.page.goto(`${setup.url}/`);
  const registered = await viewer.page.evaluate(async (name) => (await fetch("/v1/auth/register", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ handle: name, email: `${name}@example.com`, password: "a long enough password" }) })).status, handle);
  await viewer.page.goto(`${setup.url}/create`);
  await signIn(viewer.page, handle, "a long enough password");
  await viewer.page.goto(`${setup.url}/c/${clipId}`);
  await viewer.page.waitForFunction(() => {
    const video = document.querySelector('article[data-active="true"] video');
    return video && !video.paused && video.currentTime > 0.5 && video.videoWidth > 0;
  }, null, { timeout: 60000 });
  const frame = await viewer.page.$eval('article[data-active="true"]', (article) => {
    const video = article.querySelector("video");
    const canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    return { clip: article.dataset.clipId, currentTime: video.currentTime, png: canvas.toDataURL("image/png") };
  });
  const framePath = join(setup.artifacts, "viewer-frame.png");
  writeFileSync(framePath, Buffer.from(frame.png.split(",")[1], "base64"));
  await shot(viewer.page, "editor-viewer-feed-390x844");
  await viewer.ctx.close();
  return { sounds: sounds.map((s) => s.key), thumbs, duration, trimStartKeyed, trimEndDragged, rateAt2, before, after,
    nudged, playing, preview, typed, status, clip, edits, token, registered,
    viewerFrame: { path: framePath, clip: frame.clip, currentTime: frame.currentTime },
    violations, errors: [...page.errors, ...viewer.page.errors] };
});

// 2. Desktop: the preview beside the panels; the editor of a picked file, axe-clean.
await journey("desktop", async () => {
  const { ctx, page } = await context(DESKTOP, { storageState: signedIn });
  await page.goto(`${setup.url}/create`);
  await page.getByRole("button", { name: "Upload a file" }).click();
  await page.locator('input[type="file"]').setInputFiles(setup.files.pick);
  await page.getByRole("slider", { name: "Start of the clip" }).waitFor({ timeout: 30000 });
  await page.getByRole("button", { name: "Add text" }).click();
  await page.waitForFunction(() => document.querySelectorAll(".editor .thumbs img").length === 8, null, { timeout: 30000 });
  await shot(page, "editor-1440x900");
  const stage = await page.locator(".editor .stage").boundingBox();
  const panels = await page.locator(".editor .panels").boundingBox();
  const violations = await axe(page);
  await ctx.close();
  return { besides: stage.x + stage.width <= panels.x, violations, errors: page.errors };
});

// 3. Re-edit from the studio: the editor opens on the original with the clip's edits; the text
//    changed and saved, the clip is processed again and comes back ready with the new text.
await journey("studio_reedit", async () => {
  if (!posted?.id) throw new Error("no clip was posted by the first journey");
  const { ctx, page } = await context(PHONE, { storageState: signedIn });
  await page.goto(`${setup.url}/studio`);
  await page.getByRole("button", { name: /^Edit video of Edited in the browser/ }).click();
  const dialog = page.getByRole("dialog", { name: "Edit" });
  const text = dialog.getByRole("textbox", { name: "Text 1" });
  await text.waitFor({ timeout: 30000 });
  const opened = { text: await text.inputValue(),
    trimStart: await valueOf(dialog.getByRole("slider", { name: "Start of the clip" })),
    sound: await dialog.getByRole("radio", { name: /Arpeggio/ }).isChecked() };
  await text.fill("Take two");
  await shot(page, "editor-reedit-390x844");
  const violations = await axe(page);
  const sent = page.waitForResponse((r) => r.url().endsWith(`/v1/clips/${posted.id}/edits`) && r.request().method() === "POST");
  await dialog.getByRole("button", { name: "Save edits" }).click();
  const response = await sent;
  await dialog.waitFor({ state: "hidden" });
  let status = null;
  for (let i = 0; i < READY_MS / 1000; i += 1) {
    status = (await apiGet(page, `/v1/clips/${posted.id}/status`)).body.status;
    if (["ready", "failed", "rejected"].includes(status)) break;
    await page.waitForTimeout(1000);
  }
  const edits = (await apiGet(page, `/v1/clips/${posted.id}/edits`)).body.edits;
  await ctx.close();
  return { opened, accepted: response.status(), status, edits, violations, errors: page.errors };
});

await finish();
