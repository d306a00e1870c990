import { describe, expect, it } from "vitest";

import { formatDuration, Pace } from "./pace";
import { cameraProblem, recordingType } from "./recording";

describe("upload pace", () => {
  it("knows nothing before two samples a moment apart", () => {
    const pace = new Pace();
    pace.add(0, 0);
    expect(pace.speed()).toBeNull();
    pace.add(1000, 100);
    expect(pace.speed()).toBeNull();
  });

  it("measures speed over the last seconds and the time left", () => {
    const pace = new Pace();
    for (let second = 0; second <= 10; second++) pace.add(second * 1_000_000, second * 1000);
    expect(pace.speed()).toBeCloseTo(1_000_000);
    expect(pace.secondsLeft(15_000_000)).toBeCloseTo(5);
  });

  it("starts over when the offset goes back (a restarted upload)", () => {
    const pace = new Pace();
    pace.add(5_000_000, 0);
    pace.add(6_000_000, 1000);
    pace.add(0, 2000);
    expect(pace.speed()).toBeNull();
  });

  it("shows minutes and seconds", () => {
    expect(formatDuration(0)).toBe("0:00");
    expect(formatDuration(65.4)).toBe("1:05");
  });
});

describe("recording", () => {
  it("prefers MP4 with H.264 and falls back to WebM", () => {
    expect(recordingType((type) => type.startsWith("video/webm"))).toBe("video/webm;codecs=vp9,opus");
    expect(recordingType(() => true)).toBe("video/mp4;codecs=avc1.640028,mp4a.40.2");
    expect(recordingType(() => false)).toBeNull();
  });

  it("names why the camera could not start", () => {
    expect(cameraProblem(new DOMException("no", "NotAllowedError"))).toBe("denied");
    expect(cameraProblem(new DOMException("none", "NotFoundError"))).toBe("missing");
    expect(cameraProblem(new Error("?"))).toBe("other");
  });
});
