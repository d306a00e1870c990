// A list the server hands out in pages by cursor (the studio's clips, the review queue, the
// blocklist, the audit list): its items so far, whether more follow, and the last problem.
import { t } from "../i18n/index.svelte";
import { showProblem } from "../problems";

export interface PageAnswer<T> {
  data?: { items: T[]; next_cursor?: string | null };
  error?: unknown;
  response: Response;
}

export class Paged<T> {
  items = $state<T[]>([]);
  cursor = $state<string | null>(null);
  loaded = $state(false);
  problem = $state("");
  #fetch: (cursor: string | null) => Promise<PageAnswer<T>>;

  constructor(fetchPage: (cursor: string | null) => Promise<PageAnswer<T>>) {
    this.#fetch = fetchPage;
  }

  /** The first page again, or (`more`) the page after the last one. */
  async load(more = false): Promise<void> {
    const { data, error, response } = await this.#fetch(more ? this.cursor : null);
    if (!data) {
      this.problem = showProblem(error, response.status, response.headers.get("Retry-After"), t).message;
      return;
    }
    this.problem = "";
    this.items = more ? [...this.items, ...data.items] : data.items;
    this.cursor = data.next_cursor ?? null;
    this.loaded = true;
  }
}
