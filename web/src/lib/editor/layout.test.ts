import { describe, expect, it } from "vitest";

import { BOX_BORDER_PX, containedRect, fontPx, hits, layout, placementAt } from "./layout";

// A monospace stand-in for the font: each character 0.6 em wide; capitals and "l" rise 0.73 em,
// "g" and "p" drop 0.23 em, other letters rise 0.55 em.
const measure = (line: string, px: number) => ({
  width: line.length * 0.6 * px,
  ascent: (/[A-Zl]/.test(line) ? 0.73 : /[a-z]/.test(line) ? 0.55 : 0) * px,
  descent: (/[gp]/.test(line) ? 0.23 : 0) * px,
});
const picture = { width: 720, height: 1280 };

describe("text overlay layout (drawtext's rules)", () => {
  it("sizes the font as a fraction of the picture's height", () => {
    expect(fontPx(1280, 0.05)).toBe(64);
    expect(fontPx(641, 0.05)).toBe(32);
  });

  it("places the block at (room × x, room × y) with a 12 px box around it", () => {
    const placed = layout({ text: "Hello", x: 0.5, y: 0.85, size: 0.05 }, picture, measure);
    expect(placed.fontPx).toBe(64);
    expect(placed.width).toBeCloseTo(192);
    expect(placed.height).toBeCloseTo(0.73 * 64);
    expect(placed.left).toBe(Math.trunc((720 - 192) * 0.5));
    expect(placed.top).toBe(Math.trunc((1280 - 0.73 * 64) * 0.85));
    expect(placed.baseline).toBeCloseTo(placed.top + 0.73 * 64);
    expect(placed.box).toEqual({ left: placed.left - BOX_BORDER_PX, top: placed.top - BOX_BORDER_PX,
      width: placed.width + 2 * BOX_BORDER_PX, height: placed.height + 2 * BOX_BORDER_PX });
  });

  it("gives every line the tallest glyphs' height and the block the widest line", () => {
    const placed = layout({ text: "Hi\nlong gap", x: 0, y: 0, size: 0.05 }, picture, measure);
    expect(placed.lines).toEqual(["Hi", "long gap"]);
    expect(placed.lineHeight).toBeCloseTo((0.73 + 0.23) * 64);
    expect(placed.height).toBeCloseTo(2 * placed.lineHeight);
    expect(placed.width).toBeCloseTo(8 * 0.6 * 64);
    expect([placed.left, placed.top]).toEqual([0, 0]);
  });

  it("turns a dragged corner back into fractions, inside the picture", () => {
    const block = { width: 200, height: 50 };
    expect(placementAt(260, 615, block, picture)).toEqual({ x: 0.5, y: 0.5 });
    expect(placementAt(-50, 5000, block, picture)).toEqual({ x: 0, y: 1 });
    const placed = layout({ text: "Hello", x: 0.3, y: 0.2, size: 0.05 }, picture, measure);
    const back = placementAt(placed.left, placed.top, placed, picture);
    expect(back.x).toBeCloseTo(0.3, 2);
    expect(back.y).toBeCloseTo(0.2, 2);
  });

  it("finds the picture inside a letterboxed element and hits boxes in picture pixels", () => {
    expect(containedRect({ width: 390, height: 400 }, picture)).toMatchObject({ width: 225, height: 400, left: 82.5, scale: 0.3125 });
    expect(hits({ left: 10, top: 10, width: 20, height: 20 }, 30, 15)).toBe(true);
    expect(hits({ left: 10, top: 10, width: 20, height: 20 }, 31, 15)).toBe(false);
  });
});
