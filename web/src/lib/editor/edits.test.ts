import { describe, expect, it } from "vitest";

import { balanceOf, buildEdits, type EditorState, initialState, newText, showing, volumes } from "./edits";

const base = (): EditorState => initialState(3);

describe("the edit list sent to the server", () => {
  it("is empty when nothing was changed", () => {
    expect(buildEdits(base())).toEqual({});
  });

  it("carries trim, speed, cover and texts with times on the edited clip", () => {
    const state = base();
    state.trim = { start: 0.5, end: 2.5 };
    state.speed = 2;
    state.cover = 0.4;
    const text = newText("  Hello #world ", 0.2);
    text.end = 0.8;
    text.color = "#FFD400";
    state.texts = [text, newText("   ", 0)];
    expect(buildEdits(state)).toEqual({
      trim_start: 0.5, trim_end: 2.5, speed: 2, cover_time: 0.4,
      texts: [{ text: "Hello #world", x: 0.5, y: 0.5, size: 0.06, color: "#ffd400", box: true, start: 0.2, end: 0.8 }],
    });
  });

  it("clamps a cover or text time past the end of a shortened clip, and drops an end at the clip's end", () => {
    const state = base();
    state.trim = { start: 0, end: 1 };
    state.cover = 2.5;
    const text = newText("late", 2);
    text.end = 3;
    state.texts = [text];
    const edits = buildEdits(state);
    expect(edits.cover_time).toBe(0.95);
    expect(edits.texts?.[0]).toMatchObject({ start: 0.9 });
    expect(edits.texts?.[0].end).toBeUndefined();
  });

  it("balances the background sound against the clip's own, or replaces it", () => {
    const state = base();
    state.sound = { key: "sounds/v1/rain.m4a", mode: "mix", balance: 0.75 };
    expect(buildEdits(state).audio).toEqual({ key: "sounds/v1/rain.m4a", mode: "mix", volume: 1, original_volume: 0.5 });
    state.sound = { key: "sounds/v1/rain.m4a", mode: "replace", balance: 0.25 };
    expect(buildEdits(state).audio).toMatchObject({ mode: "replace", volume: 0.5 });
  });

  it("round-trips through the editor's state (a re-edit starts from the clip's edits)", () => {
    const edits = { trim_start: 0.5, trim_end: 2.5, speed: 0.5, cover_time: 1,
      texts: [{ text: "Hi", x: 0.2, y: 0.1, size: 0.08, color: "#ff4f8b", box: false, start: 0, end: 2 }],
      audio: { key: "sounds/v1/pulse.m4a", mode: "mix" as const, volume: 0.5, original_volume: 1 } };
    expect(buildEdits(initialState(3, edits))).toEqual(edits);
  });
});

describe("balance", () => {
  it("keeps both sounds at full in the middle and fades one out towards each end", () => {
    expect(volumes(0.5)).toEqual({ sound: 1, original: 1 });
    expect(volumes(0)).toEqual({ sound: 0, original: 1 });
    expect(volumes(1)).toEqual({ sound: 1, original: 0 });
    for (const b of [0, 0.2, 0.5, 0.8, 1]) {
      const v = volumes(b);
      expect(balanceOf(v.sound, v.original)).toBeCloseTo(b);
    }
  });
});

describe("text timing", () => {
  it("shows a text between its start and end, inclusive, as drawtext does", () => {
    const text = newText("x", 1);
    text.end = 2;
    expect([0.9, 1, 1.5, 2, 2.1].map((t) => showing(text, t))).toEqual([false, true, true, true, false]);
  });
});
