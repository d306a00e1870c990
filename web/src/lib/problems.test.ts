import { describe, expect, it } from "vitest";

import { retryAfterSeconds, showProblem } from "./problems";

const t = (key: string, options?: Record<string, unknown>) => `${key}:${JSON.stringify(options ?? {})}`;

describe("showProblem", () => {
  it("puts validation messages beside their fields", () => {
    const body = { status: 422, detail: "body.email: bad", errors: [
      { location: ["body", "email"], message: "not an e-mail" },
      { location: ["body", "password"], message: "too short" },
      { location: ["body", "password"], message: "second" }] };
    const shown = showProblem(body, 422, null, t);
    expect(shown.fields).toEqual({ email: "not an e-mail", password: "too short" });
    expect(shown.message).toBe("body.email: bad");
  });

  it("says how long to wait after a 429", () => {
    const shown = showProblem({ detail: "slow down" }, 429, "17", t);
    expect(shown.retryAfterS).toBe(17);
    expect(shown.message).toBe('errors.rateLimited:{"count":17}');
  });

  it("reads Retry-After as an HTTP date too", () => {
    expect(retryAfterSeconds(new Date(10_000 + 5_000).toUTCString(), 10_000)).toBe(5);
    expect(retryAfterSeconds(null)).toBeNull();
  });
});
