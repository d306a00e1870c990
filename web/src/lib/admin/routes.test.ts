import { describe, expect, it } from "vitest";

import { parseRoute } from "../routes";

describe("the admin console's paths", () => {
  it("opens on the instance section and knows each section by name", () => {
    expect(parseRoute("/admin")).toEqual({ page: "admin", section: "instance" });
    expect(parseRoute("/admin/registration")).toEqual({ page: "admin", section: "registration" });
    expect(parseRoute("/admin/health")).toEqual({ page: "admin", section: "health" });
  });

  it("sends an unknown section to the missing page", () => {
    expect(parseRoute("/admin/secrets")).toEqual({ page: "missing" });
    expect(parseRoute("/administrator")).toEqual({ page: "missing" });
  });
});
