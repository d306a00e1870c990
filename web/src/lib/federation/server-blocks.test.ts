import { describe, expect, it } from "vitest";

import { createApi, useCredentials } from "../api/client";
import { readServerBlock, setServerBlock } from "./server-blocks";

// The device ID lives in localStorage; Node has none.
const storage = new Map<string, string>();
Object.assign(globalThis, { localStorage: { getItem: (k: string) => storage.get(k) ?? null,
  setItem: (k: string, v: string) => storage.set(k, v) } });
useCredentials({ access: () => "token", refresh: async () => false });

const t = (key: string, options?: Record<string, unknown>) => `${key}${options ? JSON.stringify(options) : ""}`;

/** A server keeping one person's blocked servers, answering as the API does; what it was asked. */
function fakeServer() {
  const blocked = new Set<string>();
  const asked: string[] = [];
  const api = createApi("http://test", async (request) => {
    const url = new URL(request.url);
    asked.push(`${request.method} ${url.pathname}`);
    if (url.pathname === "/v1/me/domain-blocks" && request.method === "POST") {
      const { domain } = await request.json();
      if (domain === "not a server") {
        return Response.json({ status: 422, title: "Unprocessable", detail: "'not a server' is not a server's name" },
          { status: 422, headers: { "Content-Type": "application/problem+json" } });
      }
      blocked.add(domain);
      return Response.json({ domain, blocking: true });
    }
    const domain = decodeURIComponent(url.pathname.split("/").pop() ?? "");
    if (request.method === "DELETE") blocked.delete(domain);
    return Response.json({ domain, blocking: blocked.has(domain) });
  });
  return { api, asked, blocked };
}

describe("a block of a whole server from an account's card", () => {
  it("blocks, reads back and unblocks through the domain-blocks API", async () => {
    const server = fakeServer();
    expect(await readServerBlock(server.api, "peer.example:8443")).toBe(false);
    expect(await setServerBlock(server.api, "peer.example:8443", true, t)).toEqual({ ok: true, blocking: true });
    expect([...server.blocked]).toEqual(["peer.example:8443"]);
    expect(await readServerBlock(server.api, "peer.example:8443")).toBe(true);
    expect(await setServerBlock(server.api, "peer.example:8443", false, t)).toEqual({ ok: true, blocking: false });
    expect(server.blocked.size).toBe(0);
    expect(server.asked).toEqual(["GET /v1/me/domain-blocks/peer.example%3A8443", "POST /v1/me/domain-blocks",
      "GET /v1/me/domain-blocks/peer.example%3A8443", "DELETE /v1/me/domain-blocks/peer.example%3A8443"]);
  });

  it("says why the server refused, and that the network is down", async () => {
    const server = fakeServer();
    expect(await setServerBlock(server.api, "not a server", true, t))
      .toEqual({ ok: false, message: "'not a server' is not a server's name" });
    const offline = createApi("http://test", async () => {
      throw new TypeError("Failed to fetch");
    });
    expect(await setServerBlock(offline, "peer.example", true, t)).toEqual({ ok: false, message: "errors.offline" });
    expect(await readServerBlock(offline, "peer.example")).toBeNull();
  });
});
