import { describe, expect, it } from "vitest";

import { relativeTime } from "./when";

const now = new Date("2026-12-06T12:00:00Z");
const ago = (seconds: number) => new Date(now.getTime() - seconds * 1000);

describe("relativeTime", () => {
  it("says now for the last minute, then minutes, hours and days", () => {
    expect(relativeTime(ago(20), now, "en")).toBe("now");
    expect(relativeTime(ago(3 * 60), now, "en")).toBe("3 minutes ago");
    expect(relativeTime(ago(5 * 3600), now, "en")).toBe("5 hours ago");
    expect(relativeTime(ago(86400 + 60), now, "en")).toBe("yesterday");
    expect(relativeTime(ago(15 * 86400), now, "en")).toBe("2 weeks ago");
    expect(relativeTime(ago(400 * 86400), now, "en")).toBe("last year");
  });

  it("speaks the app's language", () => {
    expect(relativeTime(ago(3 * 60), now, "fr")).toBe("il y a 3 minutes");
  });
});
