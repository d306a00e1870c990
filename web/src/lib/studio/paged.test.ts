import { describe, expect, it } from "vitest";

import { Paged } from "./paged.svelte";

function answer(body: unknown, status = 200) {
  const response = new Response(JSON.stringify(body), { status });
  return status < 400 ? { data: body as { items: number[]; next_cursor: string | null }, response } : { error: body, response };
}

describe("a list in pages", () => {
  it("appends the next page by cursor and starts over on a plain load", async () => {
    const asked: (string | null)[] = [];
    const pages: Record<string, { items: number[]; next_cursor: string | null }> = {
      first: { items: [1, 2], next_cursor: "c2" }, c2: { items: [3], next_cursor: null } };
    const list = new Paged<number>(async (cursor) => {
      asked.push(cursor);
      return answer(pages[cursor ?? "first"]);
    });
    await list.load();
    await list.load(true);
    expect(list.items).toEqual([1, 2, 3]);
    expect(list.cursor).toBeNull();
    await list.load();
    expect(list.items).toEqual([1, 2]);
    expect(asked).toEqual([null, "c2", null]);
  });

  it("keeps what it has and shows the problem when a page is refused", async () => {
    let refuse = false;
    const list = new Paged<number>(async () =>
      refuse ? answer({ status: 403, title: "Not allowed", detail: "moderators only" }, 403) : answer({ items: [1], next_cursor: null }));
    await list.load();
    refuse = true;
    await list.load();
    expect(list.items).toEqual([1]);
    expect(list.problem).toBe("moderators only");
  });
});
