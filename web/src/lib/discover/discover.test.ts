import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { clearRecent, forgetSearch, MAX_RECENT, readRecent, rememberSearch } from "./recent";
import { type Suggestion, Suggester, suggestionPath } from "./suggest";

function memoryStorage() {
  const values = new Map<string, string>();
  return {
    getItem: (key: string) => values.get(key) ?? null,
    setItem: (key: string, value: string) => void values.set(key, value),
    removeItem: (key: string) => void values.delete(key),
  };
}

describe("recent searches", () => {
  it("keeps the newest first, without repeats or blanks, up to the limit", () => {
    const storage = memoryStorage();
    rememberSearch("cats", storage);
    rememberSearch("  skate   park ", storage);
    rememberSearch("CATS", storage);
    rememberSearch("   ", storage);
    expect(readRecent(storage)).toEqual(["CATS", "skate park"]);
    for (let i = 0; i < 20; i++) rememberSearch(`q${i}`, storage);
    expect(readRecent(storage)).toHaveLength(MAX_RECENT);
    expect(readRecent(storage)[0]).toBe("q19");
  });

  it("forgets one or all, and survives a damaged entry", () => {
    const storage = memoryStorage();
    rememberSearch("a", storage);
    rememberSearch("b", storage);
    expect(forgetSearch("a", storage)).toEqual(["b"]);
    clearRecent(storage);
    expect(readRecent(storage)).toEqual([]);
    storage.setItem("clipfeed.recentSearches", "{not json");
    expect(readRecent(storage)).toEqual([]);
  });
});

describe("Suggester", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("asks once after the typing pauses", async () => {
    const asked: string[] = [];
    const results: string[] = [];
    const suggester = new Suggester(async (text) => {
      asked.push(text);
      return [{ kind: "query", text, count: 1 }];
    }, (text) => results.push(text), 150);
    for (const text of ["c", "ca", "cat"]) {
      suggester.typed(text);
      await vi.advanceTimersByTimeAsync(50);
    }
    await vi.advanceTimersByTimeAsync(200);
    expect(asked).toEqual(["cat"]);
    expect(results).toEqual(["cat"]);
  });

  it("cancels the request in flight when more is typed, so a late answer is dropped", async () => {
    const signals: AbortSignal[] = [];
    const resolvers: ((items: Suggestion[]) => void)[] = [];
    const results: string[] = [];
    const suggester = new Suggester((_text, signal) => {
      signals.push(signal);
      return new Promise((resolve) => resolvers.push(resolve));
    }, (text) => results.push(text), 10);
    suggester.typed("ca");
    await vi.advanceTimersByTimeAsync(20);
    suggester.typed("cat");
    expect(signals[0].aborted).toBe(true);
    await vi.advanceTimersByTimeAsync(20);
    resolvers[1]([]);
    resolvers[0]([]); // the stale answer arrives last
    await vi.runAllTimersAsync();
    expect(results).toEqual(["cat"]);
  });

  it("clears at once when the box is emptied", () => {
    const results: [string, number][] = [];
    const suggester = new Suggester(async () => [], (text, items) => results.push([text, items.length]));
    suggester.typed("  ");
    expect(results).toEqual([["", 0]]);
  });
});

describe("suggestionPath", () => {
  it("leads to a profile, a hashtag page or a search", () => {
    expect(suggestionPath({ kind: "handle", text: "@maker", count: 3 })).toBe("/@maker");
    expect(suggestionPath({ kind: "hashtag", text: "#été", count: 3 })).toBe("/tags/%C3%A9t%C3%A9");
    expect(suggestionPath({ kind: "query", text: "cat & dog", count: 3 })).toBe("/search?q=cat%20%26%20dog");
  });
});
