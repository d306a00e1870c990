// Fast start: while one clip plays, warm the browser's HTTP cache with what the next clips
// need to start (poster, start playlist, init segment, first segment). The URLs come from the
// server's playback info (`prefetch_urls`), and the player later asks for the very same URLs,
// so the browser answers from its cache.

export const AHEAD = 2;

export interface Prefetchable {
  prefetch_urls?: string[] | null;
}

/** The URLs to warm for the clips after `index`, nearest clip first, without repeats. */
export function prefetchTargets(items: (Prefetchable | null)[], index: number, ahead = AHEAD): string[] {
  const urls: string[] = [];
  for (const item of items.slice(index + 1, index + 1 + ahead)) {
    for (const url of item?.prefetch_urls ?? []) if (!urls.includes(url)) urls.push(url);
  }
  return urls;
}

export class Prefetcher {
  #started = new Set<string>();
  #controller: AbortController | null = null;

  constructor(private readonly fetchImpl: typeof fetch = globalThis.fetch.bind(globalThis),
    private readonly ahead = AHEAD) {}

  /** Warm the cache for the clips after `index`; earlier unfinished work is abandoned. */
  async warm(items: (Prefetchable | null)[], index: number): Promise<void> {
    this.#controller?.abort();
    const controller = new AbortController();
    this.#controller = controller;
    const wanted = prefetchTargets(items, index, this.ahead).filter((url) => !this.#started.has(url));
    // One URL at a time, in order: the next clip's bytes matter more than the one after.
    for (const url of wanted) {
      if (controller.signal.aborted) return;
      this.#started.add(url);
      try {
        // The same mode and credentials as the player's requests, so the cache entry is reused.
        const response = await this.fetchImpl(url, { mode: "cors", credentials: "omit", signal: controller.signal,
          priority: "low" } as RequestInit);
        await response.arrayBuffer();
      } catch {
        this.#started.delete(url); // aborted or failed: try again next time
        if (controller.signal.aborted) return;
      }
    }
  }
}

/** The network quality the browser reports (Network Information API where there is one). */
export function reportedNetwork(nav: Navigator | undefined = globalThis.navigator): string | null {
  const connection = (nav as Navigator & { connection?: { type?: string; effectiveType?: string } })?.connection;
  if (!connection) return null;
  if (connection.type === "wifi" || connection.type === "ethernet") return connection.type;
  return connection.effectiveType ?? null;
}
