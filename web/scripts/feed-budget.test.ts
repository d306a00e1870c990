import type { OutputBundle, OutputChunk } from "rollup";
import { describe, expect, it } from "vitest";

import { feedRouteFiles } from "./feed-budget";

function chunk(fileName: string, facade: string, imports: string[] = [], dynamicImports: string[] = [],
  isEntry = false): OutputChunk {
  return { type: "chunk", fileName, facadeModuleId: facade, imports, dynamicImports, isEntry } as unknown as OutputChunk;
}

describe("feedRouteFiles", () => {
  it("counts the entry, its imports and lazy chunks the feed loads anyway, not pages and panels", () => {
    const files = [
      chunk("index.js", "/w/src/main.ts", ["feed.js"], ["hls.js", "Profile.js", "fr.js", "Sheet.js"], true),
      chunk("feed.js", "/w/src/App.svelte", ["shared.js"]),
      chunk("shared.js", "/w/src/lib/api/client.ts"),
      chunk("hls.js", "/w/node_modules/hls.js/dist/hls.light.mjs"),
      chunk("Profile.js", "/w/src/routes/ProfilePage.svelte", ["profile-only.js"]),
      chunk("profile-only.js", "/w/src/lib/components/profile/FollowList.svelte"),
      chunk("fr.js", "/w/src/lib/i18n/fr.ts"),
      chunk("Sheet.js", "/w/src/lib/components/feed/ShareSheet.svelte"),
    ];
    const bundle = Object.fromEntries(files.map((file) => [file.fileName, file])) as OutputBundle;
    expect(feedRouteFiles(bundle).sort()).toEqual(["feed.js", "hls.js", "index.js", "shared.js"]);
  });
});
