// Suggestions as one types: asked for after a short pause (debounce), and a newer keystroke
// cancels the request still in flight, so a slow answer for "ca" never replaces the one for "cat".
export interface Suggestion {
  kind: "handle" | "hashtag" | "query";
  text: string;
  count: number;
}

export type FetchSuggestions = (text: string, signal: AbortSignal) => Promise<Suggestion[]>;

export class Suggester {
  #timer: ReturnType<typeof setTimeout> | null = null;
  #inflight: AbortController | null = null;

  constructor(private readonly fetch: FetchSuggestions, private readonly onResult: (text: string, items: Suggestion[]) => void,
    private readonly delayMs = 150) {}

  /** The box now holds `text`: ask after the pause unless more typing comes first. */
  typed(text: string): void {
    this.cancel();
    const query = text.trim();
    if (!query) {
      this.onResult("", []);
      return;
    }
    this.#timer = setTimeout(() => void this.#ask(query), this.delayMs);
  }

  cancel(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#inflight?.abort();
    this.#inflight = null;
  }

  async #ask(query: string): Promise<void> {
    const controller = new AbortController();
    this.#inflight = controller;
    try {
      const items = await this.fetch(query, controller.signal);
      if (!controller.signal.aborted) this.onResult(query, items);
    } catch {
      // aborted, or the network failed: the box keeps working without suggestions
    } finally {
      if (this.#inflight === controller) this.#inflight = null;
    }
  }
}

/** Where picking a suggestion leads: a creator's profile, a hashtag's page, or a search. */
export function suggestionPath(item: Suggestion): string {
  if (item.kind === "handle") return `/${item.text.startsWith("@") ? item.text : `@${item.text}`}`;
  if (item.kind === "hashtag") return `/tags/${encodeURIComponent(item.text.replace(/^#/, ""))}`;
  return `/search?q=${encodeURIComponent(item.text)}`;
}
