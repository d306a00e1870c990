import { describe, expect, it } from "vitest";

import { Prefetcher, prefetchTargets } from "./prefetch";

const item = (clip: number) => ({ prefetch_urls: [`/p/${clip}.webp`, `/v/${clip}/index.m3u8`, `/v/${clip}/init.mp4`] });

describe("prefetch", () => {
  it("targets the next two clips only, nearest first", () => {
    const urls = prefetchTargets([item(0), item(1), item(2), item(3)], 0);
    expect(urls).toEqual([...item(1).prefetch_urls, ...item(2).prefetch_urls]);
  });

  it("skips clips without playback info and never repeats a URL", () => {
    expect(prefetchTargets([item(0), null, item(2), item(2)], 0)).toEqual(item(2).prefetch_urls);
  });

  it("fetches each URL once, and again only after a failure", async () => {
    const asked: string[] = [];
    let fail = true;
    const prefetcher = new Prefetcher((async (url: string) => {
      asked.push(url);
      if (url.endsWith("init.mp4") && fail) {
        fail = false;
        throw new Error("network");
      }
      return new Response("x");
    }) as typeof fetch, 1);
    const items = [item(0), item(1)];
    await prefetcher.warm(items, 0);
    await prefetcher.warm(items, 0);
    expect(asked).toEqual([...item(1).prefetch_urls, "/v/1/init.mp4"]);
  });
});
