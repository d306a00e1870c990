import { describe, expect, it } from "vitest";

import { EventQueue, type PlaybackEvent, Viewing } from "./events";

/** An event as the request carries it (fields left undefined are not in the JSON). */
const sent = (event: unknown) => JSON.parse(JSON.stringify(event)) as Record<string, unknown>;

function queue(outcomes: ("sent" | "refused" | "failed")[] = []) {
  const batches: PlaybackEvent[][] = [];
  const q = new EventQueue(async (events) => {
    batches.push(events);
    return outcomes.shift() ?? "sent";
  });
  return { q, batches };
}

describe("EventQueue", () => {
  it("resends a failed batch with the same event IDs, so the server counts it once", async () => {
    const { q, batches } = queue(["failed", "sent"]);
    q.push("impression", "1");
    await q.flush();
    expect(q.pending).toHaveLength(1);
    await q.flush();
    expect(q.pending).toHaveLength(0);
    expect(batches[1][0].event_id).toBe(batches[0][0].event_id);
  });

  it("drops a refused batch instead of resending it forever", async () => {
    const { q, batches } = queue(["refused"]);
    q.push("impression", "1");
    await q.flush();
    await q.flush();
    expect(batches).toHaveLength(1);
  });

  it("sends large backlogs in batches of at most 50", async () => {
    const { q, batches } = queue();
    for (let i = 0; i < 120; i++) q.push("impression", String(i + 1));
    await q.flush();
    expect(batches.map((b) => b.length)).toEqual([50, 50, 20]);
  });
});

describe("Viewing", () => {
  it("reports impression, play start and watch time, in the server's schema", () => {
    const { q } = queue();
    const viewing = new Viewing(q, "7", 10_000, "foryou");
    viewing.tick(0, 0);
    viewing.tick(0.5, 500);
    viewing.tick(1.0, 1000);
    viewing.report();
    expect(q.pending.map((e) => e.type)).toEqual(["impression", "play_start", "progress"]);
    expect(q.pending[2]).toMatchObject({ watch_ms: 1000, position_ms: 1000, duration_ms: 10_000, source: "foryou" });
    expect(q.pending[0].duration_ms).toBeUndefined(); // impressions carry no timings
  });

  it("counts a loop back to the start as a completion and a replay", () => {
    const { q } = queue();
    const viewing = new Viewing(q, "7", 4000, "foryou");
    for (let ms = 0; ms <= 3900; ms += 250) viewing.tick(ms / 1000, ms);
    viewing.tick(0.1, 4150);
    const types = q.pending.map((e) => e.type);
    expect(types).toEqual(["impression", "play_start", "complete", "replay"]);
    expect(q.pending[2].watch_ms).toBe(4150);
  });

  it("calls leaving within two seconds a skip, and later leaving only watch time", () => {
    const quick = queue();
    const first = new Viewing(quick.q, "1", 10_000, "foryou");
    first.tick(0, 0);
    first.tick(0.8, 800);
    first.leave();
    expect(quick.q.pending.at(-1)).toMatchObject({ type: "skip", position_ms: 800, watch_ms: 800 });

    const slow = queue();
    const second = new Viewing(slow.q, "2", 10_000, "foryou");
    for (let ms = 0; ms <= 5000; ms += 250) second.tick(ms / 1000, ms);
    second.leave();
    expect(slow.q.pending.at(-1)).toMatchObject({ type: "progress", watch_ms: 5000, ended: true });
  });

  it("marks the last report of a play left before the end, even with nothing left to report", () => {
    const { q } = queue();
    const viewing = new Viewing(q, "3", 10_000, "foryou");
    for (let ms = 0; ms <= 3000; ms += 250) viewing.tick(ms / 1000, ms);
    viewing.report();
    viewing.leave();
    expect(q.pending.slice(-2)).toMatchObject([
      { type: "progress", watch_ms: 3000 },
      { type: "progress", watch_ms: 1, position_ms: 3000, ended: true },
    ]);
    expect(sent(q.pending.at(-2))).not.toHaveProperty("ended");
  });

  it("does not mark a play that completed as left early", () => {
    const { q } = queue();
    const viewing = new Viewing(q, "4", 4000, "foryou");
    for (let ms = 0; ms <= 3900; ms += 250) viewing.tick(ms / 1000, ms);
    viewing.tick(0.1, 4150);
    viewing.tick(1.1, 5150);
    viewing.leave();
    expect(q.pending.at(-1)).toMatchObject({ type: "progress", watch_ms: 1000 });
    expect(sent(q.pending.at(-1))).not.toHaveProperty("ended");
  });

  it("does not count a paused or hidden stretch as watched", () => {
    const { q } = queue();
    const viewing = new Viewing(q, "7", 60_000, "foryou");
    viewing.tick(0, 0);
    viewing.tick(1, 1000);
    viewing.pause();
    viewing.tick(1, 30_000);
    viewing.tick(2, 31_000);
    viewing.report();
    expect(q.pending.at(-1)?.watch_ms).toBe(2000);
  });
});
