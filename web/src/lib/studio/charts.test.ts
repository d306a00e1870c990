import { describe, expect, it } from "vitest";

import { areaPath, dayRange, lastDays, linePath, niceMax, points, ticks } from "./charts";

describe("chart arithmetic", () => {
  it("rounds the top of the value axis to 1, 2 or 5 times a power of ten", () => {
    expect([0, 0.3, 1, 3, 7, 12, 180, 501].map(niceMax)).toEqual([1, 0.5, 1, 5, 10, 20, 200, 1000]);
  });

  it("spreads ticks from zero to the top", () => {
    expect(ticks(20)).toEqual([0, 5, 10, 15, 20]);
  });

  it("places values inside the plot box, zero on the baseline and the top at the top", () => {
    const box = { width: 108, height: 58, left: 0, bottom: 10, top: 8, right: 8 };
    expect(points([0, 5, 10], box, 10)).toEqual([[0, 48], [50, 28], [100, 8]]);
    expect(points([4], box, 10)).toEqual([[50, 32]]); // a single day sits in the middle
    expect(points([-3], box, 10)).toEqual([[50, 48]]);
  });

  it("draws a line and a closed area through the points", () => {
    expect(linePath([[0, 10], [5, 2]])).toBe("M0 10 L5 2");
    expect(areaPath([[0, 10], [5, 2]], 20)).toBe("M0 10 L5 2 L5 20 L0 20 Z");
    expect(areaPath([], 20)).toBe("");
  });

  it("counts the days of a period and the period of the last n days", () => {
    expect(dayRange("2026-02-27", "2026-03-02")).toEqual(["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"]);
    expect(lastDays(28, new Date("2026-12-06T10:00:00Z"))).toEqual({ from: "2026-11-09", to: "2026-12-06" });
  });
});
