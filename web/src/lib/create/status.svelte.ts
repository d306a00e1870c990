// A clip's processing status as its creator follows it: the server's status stream (SSE), from
// "queued" through each stage to ready, review or rejected. EventSource cannot send headers, so
// the token goes in the query (the server takes it there for streams only). A dropped stream
// is opened again with a fresh token; a settled status closes it.
import type { Schemas } from "../api/client";
import { session } from "../session.svelte";

export type ClipStatus = Schemas["ClipStatusPublic"];

export const SETTLED = new Set(["ready", "rejected", "failed", "deleted", "review"]);
const REOPEN_MS = 3000;

export class ClipStatusFeed {
  readonly clipId: string;
  current = $state<ClipStatus | null>(null);
  lost = $state(false);
  #source: EventSource | null = null;
  #closed = false;

  constructor(clipId: string) {
    this.clipId = clipId;
    this.#open();
  }

  get settled(): boolean {
    return this.current !== null && SETTLED.has(this.current.status);
  }

  close(): void {
    this.#closed = true;
    this.#source?.close();
  }

  #open(): void {
    const token = encodeURIComponent(session.access() ?? "");
    const source = new EventSource(`/v1/clips/${this.clipId}/status/stream?access_token=${token}`);
    this.#source = source;
    source.addEventListener("status", (event) => {
      this.lost = false;
      this.current = JSON.parse((event as MessageEvent<string>).data) as ClipStatus;
      if (this.settled) this.close();
    });
    source.onerror = () => {
      if (this.#closed || this.settled) return;
      this.lost = true;
      if (source.readyState === EventSource.CLOSED) {
        // Refused (an expired token, say): refresh and open again.
        void session.refresh().finally(() => setTimeout(() => !this.#closed && this.#open(), REOPEN_MS));
      }
    };
  }
}
