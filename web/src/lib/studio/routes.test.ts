import { describe, expect, it } from "vitest";

import { parseRoute } from "../routes";

describe("studio and moderation routes", () => {
  it("opens the studio on its clips and knows its sections", () => {
    expect(parseRoute("/studio")).toEqual({ page: "studio", section: "clips" });
    expect(parseRoute("/studio/analytics")).toEqual({ page: "studio", section: "analytics" });
    expect(parseRoute("/studio/elsewhere").page).toBe("missing");
  });

  it("opens the moderation console on its queue", () => {
    expect(parseRoute("/mod")).toEqual({ page: "mod", section: "queue" });
    expect(parseRoute("/mod/blocklist")).toEqual({ page: "mod", section: "blocklist" });
    expect(parseRoute("/mod/audit")).toEqual({ page: "mod", section: "audit" });
    expect(parseRoute("/moderation").page).toBe("missing");
  });
});
