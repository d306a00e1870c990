import { describe, expect, it } from "vitest";

import { translate } from "./translate";

const en = { feed: { label: "Clips", clipOf: "Clip by @{{handle}}" },
  comments: { count_one: "{{count}} comment", count_other: "{{count}} comments" } };
const fr = { feed: { label: "Vidéos" }, comments: { count_one: "{{count}} commentaire", count_other: "{{count}} commentaires" } };

describe("translate", () => {
  it("finds nested keys and fills in values", () => {
    expect(translate("en", { en }, "en", "feed.clipOf", { handle: "mia" })).toBe("Clip by @mia");
  });

  it("picks the plural form of the language", () => {
    expect(translate("en", { en }, "en", "comments.count", { count: 1 })).toBe("1 comment");
    expect(translate("en", { en }, "en", "comments.count", { count: 0 })).toBe("0 comments");
    // French uses the singular for 0 and 1
    expect(translate("fr", { en, fr }, "en", "comments.count", { count: 0 })).toBe("0 commentaire");
    expect(translate("fr", { en, fr }, "en", "comments.count", { count: 2 })).toBe("2 commentaires");
  });

  it("falls back to English, then to the key", () => {
    expect(translate("fr", { en, fr }, "en", "feed.label")).toBe("Vidéos");
    expect(translate("fr", { en, fr }, "en", "feed.clipOf", { handle: "x" })).toBe("Clip by @x");
    expect(translate("fr", { en }, "en", "feed.label")).toBe("Clips"); // French not loaded yet
    expect(translate("en", { en }, "en", "nowhere.key")).toBe("nowhere.key");
  });
});
