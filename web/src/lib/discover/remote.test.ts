import { describe, expect, it } from "vitest";

import { serverName } from "../federation/server";
import { remoteAccount } from "./remote";

describe("which search queries name an account of another server", () => {
  it("takes name@server with or without the leading @, the server in lower case", () => {
    expect(remoteAccount("@bea@Video.Example")).toEqual({ name: "bea", server: "video.example", account: "bea@video.example" });
    expect(remoteAccount("  bea@video.example ")?.account).toBe("bea@video.example");
    expect(remoteAccount("Bea_2@clips.example:8443")?.account).toBe("Bea_2@clips.example:8443");
    expect(remoteAccount("alice@127.0.0.1:8001")?.server).toBe("127.0.0.1:8001");
  });

  it("reads a profile address as other servers print it", () => {
    expect(remoteAccount("https://video.example/@bea")?.account).toBe("bea@video.example");
    expect(remoteAccount("https://video.example/@bea/")?.account).toBe("bea@video.example");
    expect(remoteAccount("http://127.0.0.1:8001/@bea")?.account).toBe("bea@127.0.0.1:8001");
    expect(remoteAccount("https://video.example:443/@bea")?.account).toBe("bea@video.example");
    // A server showing someone it knows from elsewhere names their home server in the path.
    expect(remoteAccount("https://video.example/@bea@clips.example")?.account).toBe("bea@clips.example");
  });

  it("leaves ordinary searches to the search", () => {
    for (const query of ["", "cats", "@maker", "#kickflip", "skate park", "bea@", "@bea@", "a@b@c.example",
      "bea@cats", "bea@localhost", "bea @video.example", "bea@video.example/path", "bea@video..example",
      "bea@.video.example", "bea@video.example:99999", "bea@video_example.com"]) {
      expect(remoteAccount(query), query).toBeNull();
    }
  });

  it("leaves other addresses alone: a clip page, another scheme, credentials, a broken escape", () => {
    for (const query of ["https://video.example/", "https://video.example/@bea/123", "https://video.example/users/bea",
      "ftp://video.example/@bea", "https://x:y@video.example/@bea", "https://video.example/@%E0%A4%A", "https://[::1]/@bea"]) {
      expect(remoteAccount(query), query).toBeNull();
    }
  });
});

describe("a server's name as the API takes it", () => {
  it("follows the API's pattern and length bounds", () => {
    expect(serverName("Video.Example")).toBe("video.example");
    expect(serverName("localhost:8000")).toBe("localhost:8000");
    expect(serverName("ab")).toBeNull();
    expect(serverName(`${"a".repeat(252)}.com`)).toBeNull();
    expect(serverName("video example")).toBeNull();
    expect(serverName("video.example:123456")).toBeNull();
    expect(serverName("video.example:0")).toBeNull();
    expect(serverName("-video.example")).toBeNull();
    expect(serverName("video.example.")).toBeNull();
  });
});
