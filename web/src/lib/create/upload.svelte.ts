// The upload queue: each clip goes to the server's tus endpoint in 5 MiB chunks, one at a time.
// An upload pauses and resumes from the server's offset, waits out a lost connection (and
// carries on when the browser is back online), and survives a reload: tus keeps the upload's
// address in localStorage under the file's fingerprint, so choosing the same file again
// continues it. Once the last byte is in, the clip's processing status follows (status.svelte.ts).
//
// A file compressed in the browser goes up while it is being encoded, before its caption exists:
// its bytes go to a tus *partial* upload of deferred length, read from the EncodedFile as the
// encoder writes them (nothing to resume after a reload: the bytes are only in memory). The post
// then makes the clip with a *final* upload (tus concatenation) carrying the details, once the
// partial upload is complete. Until it is posted, such an upload is not in the queue.
import { defaultOptions, type DetailedError, type PreviousUpload, Upload, type UploadOptions } from "tus-js-client";

import { session } from "../session.svelte";
import { EncodedFile } from "./encoded-file";
import { Pace } from "./pace";
import { ClipStatusFeed } from "./status.svelte";

export const CHUNK_BYTES = 5 * 1024 * 1024;
// Waits between tries after a failed request; a lost connection waits for the browser to be
// online again instead (see #waitForNetwork).
const RETRY_DELAYS_MS = [0, 1000, 3000, 5000, 10000, 20000];
const NETWORK_CHECK_MS = 4000;

// "sent": every byte of an encoded file is on the server, waiting for the post.
export type Phase = "queued" | "uploading" | "paused" | "offline" | "retrying" | "failed" | "rejected" | "sent"
  | "processing";

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
export function problemReason(status: number, body: string): string {
  try {
    const problem = JSON.parse(body || "{}") as { detail?: string; title?: string };
    return problem.detail || problem.title || `HTTP ${status}`;
  } catch {
    return `HTTP ${status}`;
  }
}

export function reasonOf(error: Error | DetailedError): { status: number | null; reason: string } {
  const response = "originalResponse" in error ? error.originalResponse : null;
  if (!response) return { status: null, reason: error.message };
  return { status: response.getStatus(), reason: problemReason(response.getStatus(), response.getBody()) };
}

/** The tus metadata of a clip: its file name and type, and the creator's details. */
export function metadataOf(name: string, type: string, details: PostDetails): Record<string, string> {
  return { filename: name, filetype: type, caption: details.caption, hashtags: details.hashtags.join(" "),
    visibility: details.visibility,
    ...(details.edits && Object.keys(details.edits).length ? { edits: JSON.stringify(details.edits) } : {}) };
}

/** Upload-Metadata as tus writes it: `key base64(UTF-8 value)` pairs, a bare key for an empty value. */
export function encodeMetadata(values: Record<string, string>): string {
  const base64 = (text: string) => {
    let binary = "";
    for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
    return btoa(binary);
  };
  return Object.entries(values).map(([key, value]) => (value ? `${key} ${base64(value)}` : key)).join(",");
}

/** Tells a paused or cancelled upload's waiting read that no request will send it. */
class Stopped extends Error {}

let nextId = 1;

export class ClipUpload {
  readonly id = nextId++;
  readonly name: string;
  details = $state<PostDetails | null>(null);
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
  #encoded: EncodedFile | null;
  #finalUrl: string | null = null; // an encoded file's clip: the final upload made at the post
  #pace = new Pace();
  #timer: ReturnType<typeof setInterval> | null = null;
  #onOnline = () => this.#restart();

  /** A file to send, or an encoded file still being written (sent as it comes, posted later). */
  constructor(source: File | EncodedFile, details: PostDetails | null) {
    this.name = source.name;
    this.details = details;
    this.#encoded = source instanceof EncodedFile ? source : null;
    this.total = source.size;
    const encoded = this.#encoded;
    const how: UploadOptions = encoded
      ? { uploadLengthDeferred: true, fileReader: { openFile: async () => encoded }, storeFingerprintForResuming: false,
        headers: { "Upload-Concat": "partial" }, metadata: { filename: source.name } }
      : { storeFingerprintForResuming: true, removeFingerprintOnSuccess: true,
        metadata: metadataOf(source.name, source.type, details!) };
    // tus hands its first argument to the fileReader, which for an encoded file is the file itself.
    this.#tus = new Upload(source as File, {
      ...how,
      endpoint: endpoint(),
      chunkSize: CHUNK_BYTES,
      retryDelays: RETRY_DELAYS_MS,
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
      onProgress: (sent, total: number | null) => {
        if (this.phase === "retrying") this.phase = "uploading";
        this.sent = sent;
        // An encoded file's length is known when its encode ends; until then, what exists of it.
        this.total = total ?? this.#encoded?.size ?? sent;
        this.#pace.add(sent);
        this.speed = this.#pace.speed();
        this.secondsLeft = total === null ? null : this.#pace.secondsLeft(total);
      },
      onShouldRetry: (error, attempt, options) => this.#shouldRetry(error, attempt, options.retryDelays?.length ?? 0),
      onSuccess: () => this.#uploaded(),
      onError: (error) => this.#failed(error),
    });
  }

  async start(): Promise<void> {
    this.phase = "uploading";
    const previous = this.#encoded ? [] : await this.#tus.findPreviousUploads();
    if (previous.length) this.#tus.resumeFromPreviousUpload(previous[0]);
    this.#tus.start();
  }

  pause(): void {
    if (this.phase !== "uploading" && this.phase !== "retrying") return;
    this.phase = "paused";
    this.speed = this.secondsLeft = null;
    void this.#tus.abort(false);
    this.#encoded?.interrupt(new Stopped("paused"));
    queue.pump();
  }

  /** An encoded file's upload, posted: its details go with its bytes (all sent, or still going). */
  post(details: PostDetails): void {
    this.details = details;
    if (this.phase === "sent") void this.#uploaded();
  }

  /** An encoded file that will not be posted ("Send the original", a failed encode, the editor
   *  left): stop sending it and delete what the server has of it. An upload whose creation was
   *  still on its way is left to the server's expiry of unfinished uploads. */
  cancel(): void {
    this.#stopWaiting();
    void this.#tus.abort(true).catch(() => undefined);
    this.#encoded?.fail(new Stopped("cancelled"));
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
    const details = this.details;
    if (this.#encoded) this.phase = "sent";
    if (!details || (this.#encoded && !(await this.#concatenate(details)))) return; // not posted yet
    this.phase = "processing";
    queue.pump();
    if (!this.clipId) this.clipId = await this.#clipOfUpload();
    if (!this.clipId) return;
    if (details.comments !== "everyone") await this.#commentSetting(this.clipId, details);
    this.status = new ClipStatusFeed(this.clipId);
  }

  /** The clip from the encoded file's partial upload: a final upload with the details. A lost
   *  connection waits for the network, then asks tus again (HEAD: complete) and comes back here. */
  async #concatenate(details: PostDetails): Promise<boolean> {
    const send = () => fetch(endpoint(), { method: "POST", headers: { "Tus-Resumable": "1.0.0",
      Authorization: `Bearer ${session.access()}`, "Upload-Concat": `final;${this.#tus.url}`,
      "Upload-Metadata": encodeMetadata(metadataOf(this.name, this.#encoded!.type, details)) } });
    let response: Response;
    try {
      response = await send();
      if (response.status === 401 && (await session.refresh())) response = await send();
    } catch {
      this.#waitForNetwork();
      return false;
    }
    if (!response.ok) {
      // 422: the file was refused, and its bytes are gone; anything else may be tried again.
      this.phase = response.status === 422 ? "rejected" : "failed";
      this.reason = problemReason(response.status, await response.text());
      queue.pump();
      return false;
    }
    await response.text(); // read to its (empty) end: Chromium reports a body left unread as an aborted request
    this.#finalUrl = response.headers.get("Location");
    this.clipId = response.headers.get("Clipfeed-Clip-Id") ?? this.clipId;
    return true;
  }

  async #clipOfUpload(): Promise<string | null> {
    const url = this.#finalUrl ?? this.#tus.url;
    if (!url) return null;
    const response = await fetch(url, { headers: { Authorization: `Bearer ${session.access()}` } });
    return response.ok ? ((await response.json()) as { clip_id: string | null }).clip_id : null;
  }

  async #commentSetting(clipId: string, details: PostDetails): Promise<void> {
    const { api } = await import("../api/client");
    await api.PUT("/v1/clips/{clip_id}/comment-settings", {
      params: { path: { clip_id: clipId as unknown as number } }, body: { comments: details.comments } });
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

  /** A clip whose encoded file has been going up since its encode began: it keeps going, beside
   *  the one sending (it has been sending since before it was posted). */
  adopt(upload: ClipUpload, details: PostDetails): void {
    this.items.push(upload);
    upload.post(details);
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
