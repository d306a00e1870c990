import { describe, expect, it } from "vitest";

import { captionParts, compactCount } from "./format";

describe("captionParts", () => {
  it("finds hashtags and mentions but not e-mail addresses", () => {
    const parts = captionParts("Skate day with @mia_k #skate #sunset. mail me@example.com");
    expect(parts.filter((p) => p.kind !== "text").map((p) => [p.kind, p.value])).toEqual([
      ["mention", "mia_k"], ["tag", "skate"], ["tag", "sunset"]]);
    expect(parts.map((p) => p.text).join("")).toBe("Skate day with @mia_k #skate #sunset. mail me@example.com");
  });
});

describe("compactCount", () => {
  it("shortens large counts", () => {
    expect(compactCount(1234, "en")).toBe("1.2K");
    expect(compactCount(7, "en")).toBe("7");
  });
});
