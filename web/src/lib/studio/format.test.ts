import { describe, expect, it } from "vitest";

import { percent, watchTime } from "./format";

describe("studio formats", () => {
  it("writes watch time in seconds, then minutes, then hours", () => {
    expect(watchTime(1234)).toBe("1.2 s");
    expect(watchTime(95_000)).toBe("1 min 35 s");
    expect(watchTime(3_723_000)).toBe("1 h 2 min");
  });

  it("writes shares as percentages with one decimal", () => {
    expect(percent(0.4567)).toBe("45.7 %");
    expect(percent(1)).toBe("100.0 %");
  });
});
