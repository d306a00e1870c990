// Fast start: while one clip plays, warm the browser's HTTP cache with what the next clips
// need to start (poster, start playlist, init segment, first segment). The URLs come from the
// server's playback info (`prefetch_urls`), so the player later asks for the very same URLs
// and the browser answers from its cache.

const DEFAULT_AHEAD = 2;

/** The URLs to warm for the clips after `index` in `items` (each a PlaybackInfo). */
export function prefetchTargets(items, index, ahead = DEFAULT_AHEAD) {
  const urls = [];
  for (const item of items.slice(index + 1, index + 1 + ahead)) {
    for (const url of item.prefetch_urls || []) {
      if (!urls.includes(url)) urls.push(url);
    }
  }
  return urls;
}

export class Prefetcher {
  constructor({ fetchImpl = globalThis.fetch.bind(globalThis), ahead = DEFAULT_AHEAD } = {}) {
    this.fetchImpl = fetchImpl;
    this.ahead = ahead;
    this.started = new Set();
    this.controller = null;
  }

  /** Warm the cache for the clips after `index`; earlier unfinished work is abandoned. */
  async warm(items, index) {
    if (this.controller) this.controller.abort();
    const controller = new AbortController();
    this.controller = controller;
    const wanted = prefetchTargets(items, index, this.ahead).filter((url) => !this.started.has(url));
    // One clip at a time, in order: the next clip's bytes matter more than the one after.
    for (const url of wanted) {
      if (controller.signal.aborted) return;
      this.started.add(url);
      try {
        // Same mode and credentials as the player's requests, so the cache entry is reused.
        const response = await this.fetchImpl(url, {
          mode: "cors", credentials: "omit", priority: "low", signal: controller.signal,
        });
        await response.arrayBuffer();
      } catch (error) {
        this.started.delete(url); // aborted or failed: try again next time
        if (controller.signal.aborted) return;
      }
    }
  }
}

/** What the client reports as its network quality (Network Information API where present). */
export function reportedNetwork(nav = globalThis.navigator) {
  const connection = nav && nav.connection;
  if (!connection) return null;
  if (connection.type === "wifi" || connection.type === "ethernet") return connection.type;
  return connection.effectiveType || null;
}
