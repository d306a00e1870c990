import { describe, expect, it } from "vitest";

import { editedLength, fractionOf, keyedTime, moveHandle, stripTimes, timeAt, toEdited, toSource } from "./trim";

describe("trim handles", () => {
  it("map a pointer on the strip to a time inside the source", () => {
    expect(timeAt(150, 300, 6)).toBe(3);
    expect(timeAt(-20, 300, 6)).toBe(0);
    expect(timeAt(400, 300, 6)).toBe(6);
    expect(fractionOf(1.5, 6)).toBe(0.25);
  });

  it("keep half a second between them, and stay inside the source", () => {
    expect(moveHandle({ start: 0, end: 3 }, "start", 2.8, 3)).toEqual({ start: 2.5, end: 3 });
    expect(moveHandle({ start: 1, end: 3 }, "end", 1.2, 3)).toEqual({ start: 1, end: 1.5 });
    expect(moveHandle({ start: 1, end: 3 }, "end", 9, 3)).toEqual({ start: 1, end: 3 });
    expect(moveHandle({ start: 1, end: 3 }, "start", -1, 3)).toEqual({ start: 0, end: 3 });
  });

  it("move by a tenth of a second per arrow key, a second per page key, to the ends with Home/End", () => {
    expect(keyedTime("ArrowRight", 1, 3)).toBeCloseTo(1.1);
    expect(keyedTime("ArrowDown", 1, 3)).toBeCloseTo(0.9);
    expect(keyedTime("PageUp", 1, 3)).toBe(2);
    expect(keyedTime("End", 1, 3)).toBe(3);
    expect(keyedTime("Home", 1, 3)).toBe(0);
    expect(keyedTime("a", 1, 3)).toBeNull();
  });
});

describe("the edited clip's timeline", () => {
  it("is the trimmed range divided by the speed, both ways", () => {
    const trim = { start: 1, end: 3 };
    expect(editedLength(trim, 2)).toBe(1);
    expect(editedLength(trim, 0.5)).toBe(4);
    expect(toEdited(2, trim, 2)).toBe(0.5);
    expect(toSource(0.5, trim, 2)).toBe(2);
    expect(toSource(toEdited(2.4, trim, 0.5), trim, 0.5)).toBe(2.4);
  });

  it("puts filmstrip thumbnails in the middle of equal slices", () => {
    expect(stripTimes(4, 4)).toEqual([0.5, 1.5, 2.5, 3.5]);
    expect(stripTimes(0, 4)).toEqual([]);
  });
});
