import { beforeEach, describe, expect, it } from "vitest";

import { createApi, useCredentials } from "./client";

// The device ID lives in localStorage; Node has none.
const storage = new Map<string, string>();
Object.assign(globalThis, { localStorage: { getItem: (k: string) => storage.get(k) ?? null,
  setItem: (k: string, v: string) => storage.set(k, v) } });

describe("the API client", () => {
  let token: string;
  let refreshes: number;

  beforeEach(() => {
    token = "old";
    refreshes = 0;
    useCredentials({ access: () => token, refresh: async () => {
      refreshes += 1;
      token = "new";
      return true;
    } });
  });

  it("refreshes an expired token once, silently, and resends the write with the same key", async () => {
    const seen: { auth: string | null; key: string | null }[] = [];
    const api = createApi("http://test", async (request) => {
      seen.push({ auth: request.headers.get("Authorization"), key: request.headers.get("Idempotency-Key") });
      return request.headers.get("Authorization") === "Bearer new"
        ? Response.json({ clip_id: "1", liked: true, like_count_estimate: 1 })
        : Response.json({ status: 401, title: "Unauthorized" }, { status: 401 });
    });
    const { data } = await api.PUT("/v1/clips/{clip_id}/like", { params: { path: { clip_id: 1 } } });
    expect(data?.liked).toBe(true);
    expect(refreshes).toBe(1);
    expect(seen.map((s) => s.auth)).toEqual(["Bearer old", "Bearer new"]);
    expect(seen[0].key).toBeTruthy();
    expect(seen[1].key).toBe(seen[0].key);
  });

  it("gives up when the session cannot be refreshed", async () => {
    useCredentials({ access: () => "old", refresh: async () => false });
    let calls = 0;
    const api = createApi("http://test", async () => {
      calls += 1;
      return Response.json({ status: 401 }, { status: 401 });
    });
    const { response } = await api.GET("/v1/me");
    expect(response.status).toBe(401);
    expect(calls).toBe(1);
  });

  it("sends the device ID, so anonymous feeds and events are one viewer", async () => {
    useCredentials({ access: () => null, refresh: async () => false });
    const devices: (string | null)[] = [];
    const api = createApi("http://test", async (request) => {
      devices.push(request.headers.get("X-Device-ID"));
      return Response.json({ items: [], next_cursor: null, served_by: "cold_start", model: "none" });
    });
    await api.GET("/v1/feed");
    await api.GET("/v1/feed");
    expect(devices[0]).toMatch(/^[A-Za-z0-9_-]{8,64}$/);
    expect(devices[1]).toBe(devices[0]);
  });
});
