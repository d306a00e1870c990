import { describe, expect, it } from "vitest";

import { encoderCodecs, MIN_BYTES, outputPicture, planCompression, tooFastToBother, worthCompressing } from "./compress-plan";

const top = { short_side: 1080, max_fps: 60, bitrate_kbps: 5000, high_fps_bitrate_kbps: 7500 };
const MB = 1_000_000;

describe("the compression plan", () => {
  it("compresses a 4K 60 fps phone file down to the top rendition", () => {
    const plan = planCompression({ bytes: 312 * MB, seconds: 50, width: 3840, height: 2160, fps: 60 }, top);
    expect(plan.compress).toBe(true);
    expect([plan.width, plan.height]).toEqual([1920, 1080]);
    expect(plan.fps).toBeNull(); // 60 fps is kept
    expect(plan.expectedBytes).toBeLessThan(312 * MB / 3);
  });

  it("scales portrait pictures by their short side and slows frame rates above the top", () => {
    expect(outputPicture(2160, 3840, top)).toEqual({ width: 1080, height: 1920 });
    expect(outputPicture(720, 1280, top)).toEqual({ width: 720, height: 1280 });
    const plan = planCompression({ bytes: 500 * MB, seconds: 30, width: 1080, height: 1920, fps: 120 }, top);
    expect(plan.fps).toBe(60);
  });

  it("leaves a file already near the top rendition's bitrate alone", () => {
    // 1080p30 at 8 Mbit/s: under twice the 5 Mbit/s cap.
    const plan = planCompression({ bytes: 60 * MB, seconds: 60, width: 1920, height: 1080, fps: 30 }, top);
    expect(plan.compress).toBe(false);
  });

  it("judges a small picture by its own pixels", () => {
    // 720p at 40 Mbit/s is far above what 720p needs.
    const plan = planCompression({ bytes: 300 * MB, seconds: 60, width: 1280, height: 720, fps: 30 }, top);
    expect(plan.compress).toBe(true);
    expect([plan.width, plan.height]).toEqual([1280, 720]);
  });

  it("never opens a small file", () => {
    const plan = planCompression({ bytes: MIN_BYTES - 1, seconds: 1, width: 3840, height: 2160, fps: 60 }, top);
    expect(plan.compress).toBe(false);
  });
});

describe("the speed check", () => {
  const base = { totalSeconds: 60, originalBytes: 150 * MB, expectedBytes: 30 * MB };

  it("keeps compressing on a slow uplink", () => {
    // 10 Mbit/s: 120 s for the original; encoding at 2x real time leaves 29 s + 24 s.
    expect(worthCompressing({ ...base, encodedSeconds: 2, elapsedSeconds: 1, uplinkBytesPerSecond: 1.25 * MB })).toBe(true);
  });

  it("gives up when sending the original is sooner", () => {
    // Loopback at 200 MB/s: under a second for the original.
    expect(worthCompressing({ ...base, encodedSeconds: 2, elapsedSeconds: 1, uplinkBytesPerSecond: 200 * MB })).toBe(false);
    // A slow encoder (a fifth of real time) loses even on 10 Mbit/s.
    expect(worthCompressing({ ...base, encodedSeconds: 2, elapsedSeconds: 10, uplinkBytesPerSecond: 1.25 * MB })).toBe(false);
  });

  it("compresses when the uplink is unknown", () => {
    expect(worthCompressing({ ...base, encodedSeconds: 2, elapsedSeconds: 10, uplinkBytesPerSecond: null })).toBe(true);
  });

  it("does not start when the original goes up in a few seconds", () => {
    expect(tooFastToBother(150 * MB, 500 * MB)).toBe(true); // loopback
    expect(tooFastToBother(20 * MB, 4 * MB)).toBe(true); // 5 s
    expect(tooFastToBother(150 * MB, 1.25 * MB)).toBe(false); // 10 Mbit/s: two minutes
    expect(tooFastToBother(150 * MB, null)).toBe(false);
  });

  it("encodes only to codecs the server accepts", () => {
    expect(encoderCodecs(["h264", "vp9", "hevc"])).toEqual(["avc", "vp9"]);
    expect(encoderCodecs(["av1"])).toEqual(["av1"]);
  });
});
