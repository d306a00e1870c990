// The comments of one clip: top-level pages (pinned first, as the server sends them), replies
// loaded per thread, and the writes (post, reply, like, delete, pin).
import { api, type Schemas } from "../api/client";
import { t } from "../i18n/index.svelte";
import { showProblem } from "../problems";
import { toast } from "../toasts.svelte";

type Comment = Schemas["CommentPublic"];

export class Thread {
  comments = $state<Comment[]>([]);
  replies = $state<Record<string, Comment[]>>({});
  sort = $state<"top" | "new">("top");
  cursor = $state<string | null>(null);
  loading = $state(false);
  #path: { clip_id: number };

  constructor(readonly clipId: string) {
    this.#path = { clip_id: clipId as unknown as number }; // 64-bit IDs travel as strings
  }

  async load(more = false): Promise<void> {
    this.loading = true;
    try {
      const query = { sort: this.sort, ...(more && this.cursor ? { cursor: this.cursor } : {}) };
      const { data } = await api.GET("/v1/clips/{clip_id}/comments", { params: { path: this.#path, query } });
      if (!data) return;
      this.comments = more ? [...this.comments, ...data.items] : data.items;
      this.cursor = data.next_cursor ?? null;
    } finally {
      this.loading = false;
    }
  }

  async loadReplies(parent: Comment): Promise<void> {
    const { data } = await api.GET("/v1/clips/{clip_id}/comments/{comment_id}/replies", {
      params: { path: { ...this.#path, comment_id: parent.id as unknown as number } } });
    if (data) this.replies[parent.id] = data.items;
  }

  /** Post a comment or a reply; returns the field error to show beside the box, if any. */
  async post(body: string, parent: Comment | null): Promise<string | null> {
    const { data, error, response } = await api.POST("/v1/clips/{clip_id}/comments", {
      params: { path: this.#path }, body: { body, ...(parent ? { parent_id: parent.id } : {}) } });
    if (!data) {
      const shown = showProblem(error, response.status, response.headers.get("Retry-After"), t);
      return shown.fields.body ?? shown.message;
    }
    if (parent) {
      this.replies[parent.id] = [...(this.replies[parent.id] ?? []), data];
      parent.reply_count += 1;
    } else {
      const pinned = this.comments.filter((c) => c.pinned);
      this.comments = [...pinned, data, ...this.comments.filter((c) => !c.pinned)];
    }
    return null;
  }

  async like(comment: Comment): Promise<void> {
    const want = !comment.liked_by_me;
    comment.liked_by_me = want;
    comment.like_count += want ? 1 : -1;
    const path = { ...this.#path, comment_id: comment.id as unknown as number };
    const { response, error } = want
      ? await api.PUT("/v1/clips/{clip_id}/comments/{comment_id}/like", { params: { path } })
      : await api.DELETE("/v1/clips/{clip_id}/comments/{comment_id}/like", { params: { path } });
    if (!response.ok) {
      comment.liked_by_me = !want;
      comment.like_count += want ? -1 : 1;
      toast(showProblem(error, response.status, response.headers.get("Retry-After"), t).message);
    }
  }

  async remove(comment: Comment): Promise<void> {
    const path = { ...this.#path, comment_id: comment.id as unknown as number };
    const { response, error } = await api.DELETE("/v1/clips/{clip_id}/comments/{comment_id}", { params: { path } });
    if (!response.ok) return toast(showProblem(error, response.status, response.headers.get("Retry-After"), t).message);
    this.comments = this.comments.filter((c) => c.id !== comment.id);
    for (const [parent, list] of Object.entries(this.replies)) this.replies[parent] = list.filter((c) => c.id !== comment.id);
  }

  async pin(comment: Comment): Promise<void> {
    const path = { ...this.#path, comment_id: comment.id as unknown as number };
    const { response, error } = comment.pinned
      ? await api.DELETE("/v1/clips/{clip_id}/comments/{comment_id}/pin", { params: { path } })
      : await api.PUT("/v1/clips/{clip_id}/comments/{comment_id}/pin", { params: { path } });
    if (!response.ok) return toast(showProblem(error, response.status, response.headers.get("Retry-After"), t).message);
    await this.load();
  }
}
