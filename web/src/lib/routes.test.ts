import { describe, expect, it } from "vitest";

import { parseRoute } from "./routes";

describe("parseRoute", () => {
  it("opens the feed on the clip of a share link", () => {
    expect(parseRoute("/", "?clip=123")).toEqual({ page: "feed", tab: "foryou", clip: "123" });
    expect(parseRoute("/c/456")).toEqual({ page: "feed", tab: "foryou", clip: "456" });
    expect(parseRoute("/", "?clip=abc")).toEqual({ page: "feed", tab: "foryou", clip: null });
  });

  it("knows profiles, the following feed and the other pages", () => {
    expect(parseRoute("/@mia_k")).toEqual({ page: "profile", handle: "mia_k" });
    expect(parseRoute("/@bea@video.example")).toEqual({ page: "profile", handle: "bea@video.example" });
    expect(parseRoute("/@bea@127.0.0.1:8001")).toEqual({ page: "profile", handle: "bea@127.0.0.1:8001" });
    expect(parseRoute("/@bea@").page).toBe("missing");
    expect(parseRoute("/@bea@video example").page).toBe("missing");
    expect(parseRoute("/following")).toEqual({ page: "feed", tab: "following", clip: null });
    expect(parseRoute("/notifications").page).toBe("notifications");
    expect(parseRoute("/nowhere").page).toBe("missing");
  });

  it("knows search, hashtag pages, Discover and the followed-hashtags feed", () => {
    expect(parseRoute("/search", "?q=cat%20video&type=creators")).toEqual({ page: "search", q: "cat video", type: "creators" });
    expect(parseRoute("/search", "?type=bogus")).toEqual({ page: "search", q: "", type: "all" });
    expect(parseRoute("/tags/%C3%A9t%C3%A9")).toEqual({ page: "hashtag", tag: "été" });
    expect(parseRoute("/discover").page).toBe("discover");
    expect(parseRoute("/hashtags")).toEqual({ page: "feed", tab: "hashtags", clip: null });
  });
});
