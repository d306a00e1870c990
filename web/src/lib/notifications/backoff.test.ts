import { describe, expect, it } from "vitest";

import { reconnectDelayMs } from "./backoff";

describe("reconnectDelayMs", () => {
  it("doubles up to thirty seconds, within a quarter either side", () => {
    const mid = () => 0.5;
    expect([0, 1, 2, 3, 10].map((n) => reconnectDelayMs(n, mid))).toEqual([1000, 2000, 4000, 8000, 30000]);
    expect(reconnectDelayMs(0, () => 0)).toBe(750);
    expect(reconnectDelayMs(0, () => 1)).toBe(1250);
  });
});
