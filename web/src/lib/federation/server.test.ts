import { describe, expect, it } from "vitest";

import { serverOf } from "./server";

describe("the server an account is on", () => {
  it("is the part of a remote handle after its @", () => {
    expect(serverOf("bea@video.example")).toBe("video.example");
    expect(serverOf("bea@127.0.0.1:8001")).toBe("127.0.0.1:8001");
    expect(serverOf("Bea@Video.Example")).toBe("video.example");
  });

  it("is none for an account of this server or a handle that names no server", () => {
    expect(serverOf("alice")).toBeNull();
    expect(serverOf("@alice")).toBeNull();
    expect(serverOf("bea@")).toBeNull();
    expect(serverOf("bea@not a server")).toBeNull();
  });
});
