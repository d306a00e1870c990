// The unread badge, live: the notification stream (SSE) while signed in, reconnecting with
// back-off; after a reconnect the count is read again, so nothing missed meanwhile is lost.
import { api } from "../api/client";
import { session } from "../session.svelte";
import { reconnectDelayMs } from "./backoff";

// `arrived` counts notifications received live: an open list reads its first page again.
export const inbox = $state({ unread: 0, live: false, arrived: 0 });

let source: EventSource | null = null;
let timer: ReturnType<typeof setTimeout> | null = null;
let attempt = 0;

function stop(): void {
  source?.close();
  source = null;
  if (timer) clearTimeout(timer);
  timer = null;
  inbox.live = false;
}

async function connect(): Promise<void> {
  stop();
  if (!session.user) return;
  // A plain read first: it refreshes an expired access token (EventSource cannot), and gives
  // the count even if the stream is slow to open.
  const { data } = await api.GET("/v1/notifications/unread-count");
  if (data) inbox.unread = data.unread_count;
  const token = session.access();
  if (!token || !session.user) return;
  const stream = new EventSource(`/v1/notifications/stream?access_token=${encodeURIComponent(token)}`);
  source = stream;
  const count = (event: MessageEvent) => {
    const body = JSON.parse(event.data) as { unread_count?: number };
    if (typeof body.unread_count === "number") inbox.unread = body.unread_count;
  };
  stream.addEventListener("ready", (event) => {
    attempt = 0;
    inbox.live = true;
    count(event as MessageEvent);
  });
  stream.addEventListener("notification", (event) => {
    count(event as MessageEvent);
    inbox.arrived += 1;
  });
  stream.onerror = () => {
    // Our own back-off rather than the browser's fixed retry; a new token on each attempt.
    stream.close();
    inbox.live = false;
    timer = setTimeout(() => void connect(), reconnectDelayMs(attempt++));
  };
}

/** Follow the signed-in state: connected while signed in, closed after signing out (for the
 * app's lifetime, so it may start after the app did). */
export function watchInbox(): void {
  $effect.root(() => {
    $effect(() => {
      if (session.user) void connect();
      else {
        stop();
        inbox.unread = 0;
      }
      return stop;
    });
  });
}
