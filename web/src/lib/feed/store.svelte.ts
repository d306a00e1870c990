// A feed tab's clips: pages from GET /v1/feed with its cursor (include=engagement: each item
// carries its counts and my flags), and the position of the viewer in it. GET /v1/engagement
// reads them again after signing in or out.
import { api, type Schemas } from "../api/client";
import { reportedNetwork } from "../player/prefetch";
import { writeMark, writtenSince } from "./engage.svelte";
import type { FeedTab } from "../routes";
import type { FeedSource } from "./events";

export interface FeedEntry {
  clip: Schemas["ClipPublic"];
  playback: Schemas["PlaybackInfo"] | null;
  engagement: Schemas["Engagement"] | null;
  source: FeedSource;
}

const PAGE_SIZE = 8;
const LOAD_WHEN_LEFT = 3; // the next page is asked for when this few clips are left
// An ended feed asks again every 2 s for its first half-minute, then after 5 and 10 s, then every
// 30 s: on a new instance the first clips are still being processed when the app opens, and
// they appear without a reload, within 2 s of being served.
const RECHECK_MS = [...Array(15).fill(2000), 5000, 10000, 30000];

export class Feed {
  entries = $state<FeedEntry[]>([]);
  index = $state(0);
  loading = $state(false);
  failed = $state<string | null>(null);
  done = $state(false);
  #cursor: string | null = null;
  #recheck: ReturnType<typeof setTimeout> | undefined;
  #rechecks = 0;

  constructor(readonly tab: FeedTab, readonly firstClip: string | null = null) {}

  /** Where these clips were found, as playback events report it. */
  get source(): FeedSource {
    return this.tab === "hashtags" ? "hashtag" : this.tab;
  }

  get current(): FeedEntry | undefined {
    return this.entries[this.index];
  }

  async start(): Promise<void> {
    if (this.firstClip) await this.#open(this.firstClip);
    await this.more();
  }

  /** The next page, unless one is loading or the feed has ended. */
  async more(): Promise<void> {
    if (this.loading || this.done) return;
    this.loading = true;
    this.failed = null;
    try {
      const network = reportedNetwork();
      const { data, error, response } = await api.GET("/v1/feed", {
        params: { query: { tab: this.tab, limit: PAGE_SIZE, include: "engagement",
          ...(this.#cursor ? { cursor: this.#cursor } : {}) },
          header: network ? { "X-Network-Type": network } : {} },
      });
      if (!data) {
        this.failed = (error as { detail?: string } | undefined)?.detail ?? String(response.status);
        return;
      }
      const known = new Set(this.entries.map((entry) => entry.clip.id));
      const fresh = data.items.filter((item) => !known.has(item.clip.id)).map((item) => ({
        clip: item.clip, playback: item.playback ?? null, engagement: item.engagement ?? null,
        source: this.source } as FeedEntry));
      this.#cursor = data.next_cursor ?? null;
      this.done = !this.#cursor;
      this.entries.push(...fresh);
      this.#rechecks = fresh.length ? 0 : this.#rechecks + 1;
      if (this.done) this.#watch();
    } catch {
      this.failed = "network";
    } finally {
      this.loading = false;
    }
  }

  /** Ask again later for clips published since (the server never repeats one). */
  #watch(): void {
    clearTimeout(this.#recheck);
    this.#recheck = setTimeout(() => {
      this.done = false;
      void this.more();
    }, RECHECK_MS[Math.min(this.#rechecks, RECHECK_MS.length - 1)]);
  }

  /** The tab is closed: no more re-checks. */
  stop(): void {
    clearTimeout(this.#recheck);
    this.done = true;
  }

  /** Move by `step` clips (bounded); true when the position changed. */
  go(step: number): boolean {
    const target = Math.max(0, Math.min(this.entries.length - 1, this.index + step));
    if (target === this.index) return false;
    this.index = target;
    if (this.entries.length - target <= LOAD_WHEN_LEFT) void this.more();
    return true;
  }

  /** Counts and my flags again (after signing in, the flags become mine). */
  async refreshEngagement(): Promise<void> {
    await this.#engagement(this.entries);
  }

  async #engagement(entries: FeedEntry[]): Promise<void> {
    const ids = entries.map((entry) => entry.clip.id).slice(0, 100);
    if (!ids.length) return;
    const mark = writeMark();
    const { data } = await api.GET("/v1/engagement", { params: { query: { clip_ids: ids.join(",") } } });
    const byClip = new Map((data?.items ?? []).map((item) => [item.clip_id, item]));
    for (const entry of this.entries) {
      const fresh = byClip.get(entry.clip.id);
      const local = entry.engagement;
      if (!fresh) continue;
      // A local write newer than this read keeps what it shows; the rest is taken from the read.
      entry.engagement = local && writtenSince(entry.clip.id, mark)
        ? { ...fresh, liked_by_me: local.liked_by_me, bookmarked_by_me: local.bookmarked_by_me,
          counts: { ...fresh.counts, likes: local.counts.likes, bookmarks: local.counts.bookmarks } }
        : fresh;
    }
  }

  async #open(clipId: string): Promise<void> {
    // IDs stay strings: a 64-bit ID loses digits as a JavaScript number.
    const path = { clip_id: clipId as unknown as number };
    const [clip, playback] = await Promise.all([
      api.GET("/v1/clips/{clip_id}", { params: { path } }),
      api.GET("/v1/clips/{clip_id}/playback", { params: { path } }),
    ]);
    if (!clip.data) return;
    this.entries.push({ clip: clip.data, playback: playback.data ?? null, engagement: null, source: "share" });
    await this.#engagement(this.entries);
  }
}
