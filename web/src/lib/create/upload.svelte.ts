// The upload queue: each clip goes to the server's tus endpoint in 5 MiB chunks, one at a time.
// An upload pauses and resumes from the server's offset, waits out a lost connection (and
// carries on when the browser is back online), and survives a reload: tus keeps the upload's
// address in localStorage under the file's fingerprint, so choosing the same file again
// continues it. Once the last byte is in, the clip's processing status follows (status.svelte.ts).
import { defaultOptions, type DetailedError, type PreviousUpload, Upload } from "tus-js-client";

import { session } from "../session.svelte";
import { Pace } from "./pace";
import { ClipStatusFeed } from "./status.svelte";

export const CHUNK_BYTES = 5 * 1024 * 1024;
// Waits between tries after a failed request; a lost connection waits for the browser to be
// online again instead (see #waitForNetwork).
const RETRY_DELAYS_MS = [0, 1000, 3000, 5000, 10000, 20000];
const NETWORK_CHECK_MS = 4000;

export type Phase = "queued" | "uploading" | "paused" | "offline" | "retrying" | "failed" | "rejected" | "processing";

export interface PostDetails {
  caption: string;
  hashtags: string[];
  visibility: "public" | "unlisted" | "private";
  comments: "everyone" | "followers" | "off";
  edits?: object; // the editor's edit list (lib/editor/edits.ts), sent as tus metadata "edits"
}

function endpoint(): string {
  return `${location.origin}/v1/uploads/`;
}

/** What the server said, in its own words (problem+json `detail`), else the HTTP status. */
export function reasonOf(error: Error | DetailedError): { status: number | null; reason: string } {
  const response = "originalResponse" in error ? error.originalResponse : null;
  if (!response) return { status: null, reason: error.message };
  const status = response.getStatus();
  try {
    const problem = JSON.parse(response.getBody() || "{}") as { detail?: string; title?: string };
    return { status, reason: problem.detail || problem.title || `HTTP ${status}` };
  } catch {
    return { status, reason: `HTTP ${status}` };
  }
}

let nextId = 1;

export class ClipUpload {
  readonly id = nextId++;
  readonly file: File;
  readonly details: PostDetails;
  phase = $state<Phase>("queued");
  sent = $state(0);
  total = $state(0);
  speed = $state<number | null>(null);
  secondsLeft = $state<number | null>(null);
  reason = $state<string | null>(null);
  resumedFrom = $state<number | null>(null);
  clipId = $state<string | null>(null);
  status: ClipStatusFeed | null = $state(null);
  #tus: Upload;
  #pace = new Pace();
  #timer: ReturnType<typeof setInterval> | null = null;
  #onOnline = () => this.#restart();

  constructor(file: File, details: PostDetails) {
    this.file = file;
    this.details = details;
    this.total = file.size;
    this.#tus = new Upload(file, {
      endpoint: endpoint(),
      chunkSize: CHUNK_BYTES,
      retryDelays: RETRY_DELAYS_MS,
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      metadata: { filename: file.name, filetype: file.type, caption: details.caption,
        hashtags: details.hashtags.join(" "), visibility: details.visibility,
        ...(details.edits && Object.keys(details.edits).length ? { edits: JSON.stringify(details.edits) } : {}) },
      onBeforeRequest: (request) => {
        const token = session.access();
        if (token) request.setHeader("Authorization", `Bearer ${token}`);
      },
      onAfterResponse: (request, response) => {
        const clip = response.getHeader("Clipfeed-Clip-Id");
        if (clip) this.clipId = clip;
        if (request.getMethod() === "HEAD" && response.getStatus() === 200) {
          // Asked where it stood: after a pause, a lost connection or a reload.
          this.resumedFrom = Number(response.getHeader("Upload-Offset") ?? 0);
        }
      },
      onProgress: (sent, total) => {
        if (this.phase === "retrying") this.phase = "uploading";
        this.sent = sent;
        this.total = total;
        this.#pace.add(sent);
        this.speed = this.#pace.speed();
        this.secondsLeft = this.#pace.secondsLeft(total);
      },
      onShouldRetry: (error, attempt, options) => this.#shouldRetry(error, attempt, options.retryDelays?.length ?? 0),
      onSuccess: () => this.#uploaded(),
      onError: (error) => this.#failed(error),
    });
  }

  async start(): Promise<void> {
    this.phase = "uploading";
    const previous = await this.#tus.findPreviousUploads();
    if (previous.length) this.#tus.resumeFromPreviousUpload(previous[0]);
    this.#tus.start();
  }

  pause(): void {
    if (this.phase !== "uploading" && this.phase !== "retrying") return;
    this.phase = "paused";
    this.speed = this.secondsLeft = null;
    void this.#tus.abort(false);
    queue.pump();
  }

  resume(): void {
    if (this.phase !== "paused" && this.phase !== "failed") return;
    this.#restart();
  }

  #restart(): void {
    this.#stopWaiting();
    this.phase = "uploading";
    this.reason = null;
    this.#pace.reset();
    this.#tus.start();
  }

  #shouldRetry(error: DetailedError, attempt: number, tries: number): boolean {
    const status = error.originalResponse?.getStatus() ?? 0;
    if (!navigator.onLine) return false; // #failed waits for the network
    if (status === 401 && attempt < tries - 1) {
      void session.refresh();
      return true;
    }
    const refused = status >= 400 && status < 500 && ![409, 423, 429].includes(status);
    if (refused) return false;
    this.phase = "retrying";
    return true;
  }

  #failed(error: Error | DetailedError): void {
    const { status, reason } = reasonOf(error);
    this.speed = this.secondsLeft = null;
    if (status === null || !navigator.onLine) {
      this.#waitForNetwork();
      return;
    }
    // 422: the file itself was refused, sending it again will not help.
    this.phase = status === 422 ? "rejected" : "failed";
    this.reason = reason;
    queue.pump();
  }

  /** Offline (or the server unreachable): try again when the browser says it is back online,
   *  and every few seconds in case it does not say so. */
  #waitForNetwork(): void {
    this.phase = "offline";
    this.#stopWaiting();
    window.addEventListener("online", this.#onOnline, { once: true });
    this.#timer = setInterval(() => {
      if (navigator.onLine) this.#restart();
    }, NETWORK_CHECK_MS);
  }

  #stopWaiting(): void {
    window.removeEventListener("online", this.#onOnline);
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  async #uploaded(): Promise<void> {
    this.#stopWaiting();
    this.sent = this.total;
    this.speed = this.secondsLeft = null;
    this.phase = "processing";
    queue.pump();
    if (!this.clipId) this.clipId = await this.#clipOfUpload();
    if (!this.clipId) return;
    if (this.details.comments !== "everyone") await this.#commentSetting(this.clipId);
    this.status = new ClipStatusFeed(this.clipId);
  }

  async #clipOfUpload(): Promise<string | null> {
    const url = this.#tus.url;
    if (!url) return null;
    const response = await fetch(url, { headers: { Authorization: `Bearer ${session.access()}` } });
    return response.ok ? ((await response.json()) as { clip_id: string | null }).clip_id : null;
  }

  async #commentSetting(clipId: string): Promise<void> {
    const { api } = await import("../api/client");
    await api.PUT("/v1/clips/{clip_id}/comment-settings", {
      params: { path: { clip_id: clipId as unknown as number } }, body: { comments: this.details.comments } });
  }
}

/** Uploads in the order they were posted, one sending at a time (a paused one lets the next go). */
class UploadQueue {
  items = $state<ClipUpload[]>([]);

  add(file: File, details: PostDetails): ClipUpload {
    this.items.push(new ClipUpload(file, details));
    this.pump();
    return this.items.at(-1)!;
  }

  pump(): void {
    if (this.items.some((item) => ["uploading", "retrying", "offline"].includes(item.phase))) return;
    const waiting = this.items.find((item) => item.phase === "queued");
    if (waiting) void waiting.start();
  }
}

export const queue = new UploadQueue();

/** Uploads started earlier (before a reload) and not finished, as tus remembers them. */
export async function unfinishedUploads(): Promise<PreviousUpload[]> {
  const all = await defaultOptions.urlStorage.findAllUploads();
  return all.filter((upload) => upload.uploadUrl?.startsWith(endpoint()));
}
