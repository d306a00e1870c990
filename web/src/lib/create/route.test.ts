import { describe, expect, it } from "vitest";

import { parseRoute } from "../routes";

describe("the create page", () => {
  it("has its own path", () => {
    expect(parseRoute("/create")).toEqual({ page: "create" });
    expect(parseRoute("/create/more").page).toBe("missing");
  });
});
