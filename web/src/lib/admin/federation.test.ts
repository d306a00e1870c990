import { describe, expect, it } from "vitest";

import { parseRoute } from "../routes";
import { type Applied, applyToEach, instanceMedia, type MediaMode, mediaChoice, readServer, readServerList, readSoftware,
  type RemoteServer, withServer, withServers } from "./federation";
import adminEn from "./strings.en";
import adminFr from "./strings.fr";

function row(server: string, policy: RemoteServer["policy"] = "none", media: MediaMode | null = null,
  instance: MediaMode = "stream"): RemoteServer {
  return { server, policy, media, media_effective: media ?? instance, software: null,
    first_seen_at: "2026-01-01T00:00:00Z", last_success_at: null, last_failure_at: null, failures_in_a_row: 0,
    dead: false };
}

describe("the Federation section", () => {
  it("has its own path", () => {
    expect(parseRoute("/admin/federation")).toEqual({ page: "admin", section: "federation" });
  });

  it("reads a server typed or pasted as an address", () => {
    expect(readServer(" Video.Example ")).toBe("video.example");
    expect(readServer("https://video.example/")).toBe("video.example");
    expect(readServer("http://127.0.0.1:8001")).toBe("127.0.0.1:8001");
    expect(readServer("not a server")).toBeNull();
    expect(readServer("video.example/@bea")).toBeNull();
  });

  it("reads a pasted list line by line, numbered as the text area shows it", () => {
    const list = readServerList("#domain,#severity\nspam.example,suspend\n\n  bad name here\nSPAM.example\n"
      + "https://clips.example/\nx\n# a comment\nvideo.example:8443\r\n");
    expect(list.servers).toEqual([{ server: "spam.example", line: 2 }, { server: "clips.example", line: 6 },
      { server: "video.example:8443", line: 9 }]);
    expect(list.invalid).toEqual([{ line: 4, text: "bad name here" }, { line: 7, text: "x" }]);
    expect(readServerList("clips.example\tsilence").servers).toEqual([{ server: "clips.example", line: 1 }]);
    expect(readServerList("bad_name!").invalid).toEqual([{ line: 1, text: "bad_name!" }]);
    expect(readServerList("\n# only comments\n")).toEqual({ servers: [], invalid: [] });
  });

  it("keeps the list sorted by server, a new answer replacing the old row", () => {
    let servers = [row("b.example"), row("d.example")];
    servers = withServer(servers, row("c.example", "silence"));
    servers = withServer(servers, row("b.example", "suspend"));
    expect(servers.map((s) => [s.server, s.policy])).toEqual([["b.example", "suspend"], ["c.example", "silence"],
      ["d.example", "none"]]);
  });

  it("merges the servers a policy by software changed into the list", () => {
    const servers = withServers([row("a.example"), row("c.example")], [row("c.example", "silence"),
      row("b.example", "silence")]);
    expect(servers.map((s) => [s.server, s.policy])).toEqual([["a.example", "none"], ["b.example", "silence"],
      ["c.example", "silence"]]);
    expect(withServers(servers, [])).toEqual(servers);
  });

  it("shows a server's own media setting, else the instance default, and names the instance's", () => {
    expect(mediaChoice(row("a.example", "none", "cache"))).toBe("cache");
    expect(mediaChoice(row("a.example", "none", "stream", "cache"))).toBe("stream");
    expect(mediaChoice(row("a.example"))).toBe("default");
    // The instance's setting is what a server without its own plays as.
    expect(instanceMedia([row("a.example", "none", "stream", "cache"), row("b.example", "none", null, "cache")]))
      .toBe("cache");
    expect(instanceMedia([row("a.example", "none", "cache"), row("b.example")])).toBe("stream");
    expect(instanceMedia([row("a.example", "none", "cache")])).toBeNull(); // every server has its own
    expect(instanceMedia([])).toBeNull();
  });

  it("reads a software name as the API takes it", () => {
    expect(readSoftware(" Misskey ")).toBe("misskey");
    expect(readSoftware("akkoma-2.x_fork")).toBe("akkoma-2.x_fork");
    expect(readSoftware("")).toBeNull();
    expect(readSoftware("two words")).toBeNull();
    expect(readSoftware("mastodon/")).toBeNull();
    expect(readSoftware("x".repeat(61))).toBeNull();
    expect(readSoftware("x".repeat(60))).toBe("x".repeat(60));
  });

  it("applies a list one server at a time and goes on after a refusal", async () => {
    let inFlight = 0;
    let most = 0;
    const heard: [string, number][] = [];
    const answers = await applyToEach(["a.example", "b.example", "c.example"], async (server): Promise<Applied> => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      await Promise.resolve();
      inFlight -= 1;
      if (server === "b.example") return { server, problem: "Too many requests" };
      if (server === "c.example") throw new Error("network down");
      return { server, row: row(server, "silence") };
    }, (applied, done) => heard.push([applied.server, done]));
    expect(most).toBe(1);
    expect(heard).toEqual([["a.example", 1], ["b.example", 2], ["c.example", 3]]);
    expect(answers.map((a) => ("problem" in a ? a.problem : a.row.policy))).toEqual(["silence", "Too many requests", "network down"]);
  });

  it("says everything in French that it says in English", () => {
    const keys = (node: object, prefix = ""): string[] => Object.entries(node).flatMap(([key, value]) =>
      typeof value === "string" ? [`${prefix}${key}`] : keys(value as object, `${prefix}${key}.`)).sort();
    expect(keys(adminFr.admin.federation)).toEqual(keys(adminEn.admin.federation));
    expect(adminFr.admin.tabs.federation).toBeTruthy();
  });
});
