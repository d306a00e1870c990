// Likes, bookmarks and follows, optimistic: the screen changes at once, the write goes out with
// an Idempotency-Key (added by the API client), and a refused write puts the screen back and
// says why in a toast.
import { api, type Schemas } from "../api/client";
import { t } from "../i18n/index.svelte";
import { showProblem } from "../problems";
import { session } from "../session.svelte";
import { toast } from "../toasts.svelte";

type Engagement = Schemas["Engagement"];

// Local writes by clip, numbered: a read of engagement that started before a write must not
// overwrite what that write shows (a sign-in's re-read racing the first like).
let writeCount = 0;
const lastWrite = new Map<string, number>();

export function writeMark(): number {
  return writeCount;
}

export function writtenSince(clipId: string, mark: number): boolean {
  return (lastWrite.get(clipId) ?? 0) > mark;
}

function wrote(clipId: string): void {
  lastWrite.set(clipId, ++writeCount);
}

interface Outcome {
  error?: unknown;
  response: Response;
}

function refused(outcome: Outcome): boolean {
  if (outcome.response.ok) return false;
  toast(showProblem(outcome.error, outcome.response.status, outcome.response.headers.get("Retry-After"), t).message);
  return true;
}

async function attempt(write: () => Promise<Outcome>): Promise<boolean> {
  try {
    return !refused(await write());
  } catch {
    toast(t("errors.offline"));
    return false;
  }
}

/** Like or unlike; `want` forces a state (a double tap only ever likes). */
export async function toggleLike(engagement: Engagement, want = !engagement.liked_by_me): Promise<void> {
  if (!session.require() || want === engagement.liked_by_me) return;
  wrote(engagement.clip_id);
  const before = { liked: engagement.liked_by_me, likes: engagement.counts.likes };
  engagement.liked_by_me = want;
  engagement.counts.likes = Math.max(0, before.likes + (want ? 1 : -1));
  const path = { clip_id: engagement.clip_id as unknown as number };
  const ok = await attempt(() => want ? api.PUT("/v1/clips/{clip_id}/like", { params: { path } })
    : api.DELETE("/v1/clips/{clip_id}/like", { params: { path } }));
  if (!ok) {
    engagement.liked_by_me = before.liked;
    engagement.counts.likes = before.likes;
  }
}

export async function toggleBookmark(engagement: Engagement): Promise<void> {
  if (!session.require()) return;
  const want = !engagement.bookmarked_by_me;
  wrote(engagement.clip_id);
  const before = { saved: engagement.bookmarked_by_me, count: engagement.counts.bookmarks };
  engagement.bookmarked_by_me = want;
  engagement.counts.bookmarks = Math.max(0, before.count + (want ? 1 : -1));
  const path = { clip_id: engagement.clip_id as unknown as number };
  const ok = await attempt(() => want ? api.PUT("/v1/clips/{clip_id}/bookmark", { params: { path } })
    : api.DELETE("/v1/clips/{clip_id}/bookmark", { params: { path } }));
  if (!ok) {
    engagement.bookmarked_by_me = before.saved;
    engagement.counts.bookmarks = before.count;
  }
}

/** Follow state per creator ID, shared by every clip of that creator on screen. */
export const following = $state<Record<string, boolean>>({});

export async function loadFollowing(userId: string): Promise<void> {
  if (!session.user || userId in following || userId === session.user.id) return;
  const { data } = await api.GET("/v1/users/{user_ref}/relationship", { params: { path: { user_ref: userId } } });
  if (data) following[userId] = data.following;
}

export async function toggleFollow(userId: string): Promise<void> {
  if (!session.require()) return;
  const want = !following[userId];
  following[userId] = want;
  const path = { user_ref: userId };
  const ok = await attempt(() => want ? api.PUT("/v1/users/{user_ref}/follow", { params: { path } })
    : api.DELETE("/v1/users/{user_ref}/follow", { params: { path } }));
  if (!ok) following[userId] = !want;
}
