// "Not interested" and "Hide this creator" from the watch screen: the clips leave the queue at
// once, the server is told (PUT), and the Undo bar offers Undo (DELETE), which puts them back where
// they were. A refused request puts them back too and says why. Loaded with the share sheet
// that offers them, not with the feed route.
import { mount } from "svelte";

import { api } from "../api/client";
import { t } from "../i18n/index.svelte";
import { showProblem } from "../problems";
import { toast } from "../toasts.svelte";
import { offerUndo } from "./offers.svelte";
import { type Removal, removeEntries, restoreEntries } from "./queue";
import type { Feed, FeedEntry } from "../feed/store.svelte";
import UndoBar from "./UndoBar.svelte";

const LOAD_WHEN_LEFT = 3; // as the store: the next page is asked for when this few clips are left

let bar: ReturnType<typeof mount> | undefined;

type Answer = { error?: unknown; response: Response };

function refused({ error, response }: Answer): void {
  toast(showProblem(error, response.status, response.headers.get("Retry-After"), t).message);
}

/** Take out the clips `gone` picks, at once; the returned removal puts them back. */
function remove(feed: Feed, gone: (entry: FeedEntry) => boolean): Removal<FeedEntry> {
  const { entries, index, removal } = removeEntries(feed.entries, feed.index, gone);
  feed.entries = entries;
  feed.index = index;
  if (entries.length - index <= LOAD_WHEN_LEFT) void feed.more();
  return removal;
}

/** Undo a removal: its clips back where they were, the viewer on the one they were watching. */
function restore(feed: Feed, removal: Removal<FeedEntry>): void {
  const { entries, index } = restoreEntries(feed.entries, removal, (entry) => entry.clip.id);
  feed.entries = entries;
  feed.index = index;
}

async function dismiss(feed: Feed, gone: (entry: FeedEntry) => boolean, send: () => Promise<Answer>,
  undo: () => Promise<Answer>, done: string): Promise<void> {
  const removal = remove(feed, gone);
  const answer = await send();
  if (!answer.response.ok) {
    restore(feed, removal);
    return refused(answer);
  }
  bar ??= mount(UndoBar, { target: document.body });
  offerUndo(done, async () => {
    const undone = await undo();
    if (undone.response.ok) restore(feed, removal);
    else refused(undone);
  });
}

export function notInterested(feed: Feed, clipId: string): Promise<void> {
  const path = { clip_id: clipId as unknown as number }; // 64-bit IDs travel as strings
  return dismiss(feed, (entry) => entry.clip.id === clipId,
    () => api.PUT("/v1/clips/{clip_id}/not-interested", { params: { path } }),
    () => api.DELETE("/v1/clips/{clip_id}/not-interested", { params: { path } }),
    t("dismiss.notInterestedDone"));
}

export function hideCreator(feed: Feed, ownerId: string, handle: string): Promise<void> {
  const path = { user_ref: ownerId };
  return dismiss(feed, (entry) => entry.clip.owner_id === ownerId,
    () => api.PUT("/v1/users/{user_ref}/hide", { params: { path } }),
    () => api.DELETE("/v1/users/{user_ref}/hide", { params: { path } }),
    t("dismiss.hiddenDone", { handle }));
}
