// Playback events, batched to POST /v1/events every few seconds and when the page is hidden
// (fetch with keepalive survives the page going away, and unlike sendBeacon carries the bearer
// token and device headers). Each event has its own ID, so a batch resent after a network error
// is counted once by the server.
import { newId } from "../ids";

export type PlaybackType = "impression" | "play_start" | "progress" | "complete" | "replay" | "skip" | "share";
export type FeedSource = "foryou" | "following" | "profile" | "search" | "hashtag" | "share" | "other";

export interface PlaybackEvent {
  event_id: string;
  type: PlaybackType;
  clip_id: string;
  ts: number;
  session_id: string;
  device: "web";
  source?: FeedSource;
  watch_ms?: number;
  position_ms?: number;
  duration_ms?: number;
  ended?: boolean;
}

/** Sends one batch; resolves to the outcome (a refused batch is dropped, a failed one resent). */
export type SendBatch = (events: PlaybackEvent[], keepalive: boolean) => Promise<"sent" | "refused" | "failed">;

export const FLUSH_EVERY_MS = 4000;
const MAX_BATCH = 50; // the server's default CLIPFEED_EVENTS_MAX_BATCH is larger
const MAX_PENDING = 1000; // offline for long: keep the newest

export class EventQueue {
  readonly sessionId = newId();
  #pending: PlaybackEvent[] = [];
  #inFlight = false;
  #beforeFlush: (() => void)[] = [];

  constructor(private readonly send: SendBatch) {}

  get pending(): readonly PlaybackEvent[] {
    return this.#pending;
  }

  push(type: PlaybackType, clipId: string, fields: Partial<PlaybackEvent> = {}, now = Date.now()): PlaybackEvent {
    const event: PlaybackEvent = { event_id: newId(), type, clip_id: clipId, ts: now, session_id: this.sessionId,
      device: "web", ...fields };
    this.#pending.push(event);
    this.#pending.splice(0, this.#pending.length - MAX_PENDING); // a count below 0 removes nothing
    return event;
  }

  /** `hook` runs before every flush (viewings report their watch time there). */
  beforeFlush(hook: () => void): () => void {
    this.#beforeFlush.push(hook);
    return () => (this.#beforeFlush = this.#beforeFlush.filter((h) => h !== hook));
  }

  /** Send what is pending, a batch at a time; what failed stays for the next flush. */
  async flush(keepalive = false): Promise<void> {
    for (const hook of this.#beforeFlush) hook();
    if (this.#inFlight && !keepalive) return;
    this.#inFlight = true;
    try {
      while (this.#pending.length) {
        const batch = this.#pending.slice(0, MAX_BATCH);
        const outcome = await this.send(batch, keepalive).catch(() => "failed" as const);
        if (outcome === "failed") return;
        this.#pending.splice(0, batch.length);
      }
    } finally {
      this.#inFlight = false;
    }
  }

  /** Flush on a timer and when the page is hidden; returns a function that stops it. */
  start(target: Window = window, every = FLUSH_EVERY_MS): () => void {
    const online = () => void this.flush();
    const timer = setInterval(online, every);
    const hidden = () => {
      if (document.visibilityState === "hidden") void this.flush(true);
    };
    const leaving = () => void this.flush(true);
    document.addEventListener("visibilitychange", hidden);
    target.addEventListener("pagehide", leaving);
    target.addEventListener("online", online);
    return () => {
      clearInterval(timer);
      document.removeEventListener("visibilitychange", hidden);
      target.removeEventListener("pagehide", leaving);
      target.removeEventListener("online", online);
    };
  }
}

const SKIP_BEFORE_MS = 2000;

/**
 * One viewing of one clip in the feed, fed with the video's position: it reports the
 * impression, the first play, watch time since the last report, completions (a looping video
 * never fires "ended", so a jump back to the start after the end is one), replays, and a skip
 * when the viewer moves on within the first two seconds.
 */
export class Viewing {
  #started = false;
  #completions = 0;
  #unreported = 0;
  #lastPosition = 0;
  #lastTick: number | null = null;
  #watched = 0;

  constructor(private readonly queue: EventQueue, readonly clipId: string, private readonly durationMs: number | null,
    private readonly source: FeedSource) {
    queue.push("impression", clipId, { source });
  }

  #fields(extra: Partial<PlaybackEvent> = {}): Partial<PlaybackEvent> {
    // undefined fields are left out of the JSON
    return { source: this.source, duration_ms: this.durationMs || undefined, ...extra };
  }

  /** The video is playing at `positionS` seconds (call on "playing" and "timeupdate"). */
  tick(positionS: number, now = performance.now()): void {
    if (!this.#started) {
      this.#started = true;
      this.queue.push("play_start", this.clipId, this.#fields());
    }
    const position = Math.round(positionS * 1000);
    if (this.#lastTick !== null) {
      const elapsed = Math.max(0, Math.min(now - this.#lastTick, 1000)); // a stall or a hidden tab is not watching
      this.#unreported += elapsed;
      this.#watched += elapsed;
    }
    this.#lastTick = now;
    const nearEnd = this.durationMs !== null && this.#lastPosition > this.durationMs - 1500;
    if (nearEnd && position < this.#lastPosition - 1000) {
      this.#completions += 1;
      this.queue.push("complete", this.clipId, this.#fields({ watch_ms: this.#take() }));
      this.queue.push("replay", this.clipId, this.#fields());
    }
    this.#lastPosition = position;
  }

  /** Playback paused or stalled: the time until the next tick is not watched. */
  pause(): void {
    this.#lastTick = null;
  }

  /**
   * Report the watch time since the last report (call before each flush). `ended`: the play is
   * over (the viewer moved on before its end), reported even with no time left to report.
   */
  report(ended = false): void {
    if (ended || this.#unreported >= 1) {
      this.queue.push("progress", this.clipId, this.#fields({ watch_ms: this.#take() || 1,
        position_ms: this.#lastPosition, ended: ended || undefined }));
    }
  }

  /**
   * The viewer moved on. Leaving before the end without a completion sends a last report marked
   * `ended`, even with nothing left to report, so the feed knows the play is over: a heartbeat
   * alone cannot tell it whether the viewer is still watching.
   */
  leave(): void {
    this.#lastTick = null;
    if (this.#completions) {
      this.report();
    } else if (this.#watched < SKIP_BEFORE_MS) {
      this.queue.push("skip", this.clipId, this.#fields({ position_ms: this.#lastPosition,
        watch_ms: this.#take() || undefined }));
    } else {
      this.report(true);
    }
  }

  #take(): number {
    const value = Math.round(this.#unreported);
    this.#unreported = 0;
    return value;
  }
}
