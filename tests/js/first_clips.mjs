// A viewer who opens the app on an instance with no ready clip yet (a new `make demo`): the
// feed says so, and the first clip published meanwhile starts playing without a reload.
// The test (tests/web/test_first_clips.py) publishes that clip once `setup.marker` exists.
import { writeFileSync } from "node:fs";

import { PHONE, axe, context, finish, journey, setup, shot } from "./harness.mjs";

await journey("first clip plays without a reload", async () => {
  const { ctx, page } = await context(PHONE);
  let navigations = 0;
  page.on("framenavigated", (frame) => { if (frame === page.mainFrame()) navigations += 1; });
  await page.goto(setup.url);
  await page.getByText("No clips yet: new ones show up here as soon as they are ready.").waitFor();
  const violations = await axe(page);
  await shot(page, "empty-feed-phone");
  writeFileSync(setup.marker, "empty feed shown");
  await page.waitForFunction(() => {
    const video = document.querySelector("article[data-clip-id] video");
    return video && video.videoWidth > 0 && video.currentTime > 0.3;
  }, null, { timeout: 150_000, polling: 250 });
  const clipId = await page.locator("article[data-clip-id]").first().getAttribute("data-clip-id");
  await shot(page, "first-clip-phone");
  const errors = page.errors;
  await ctx.close();
  return { navigations, clipId, violations, errors };
});

await finish();
