// Whether a picked file is worth re-encoding in the browser before upload, and how. Pure
// arithmetic (no browser API), so the decision is unit-tested; compress.ts does the encoding.
//
// "Far larger" is judged in bits per pixel per second: the server keeps at most its top
// rendition, whose cap (from GET /v1/upload-limits) spread over its pixels gives a budget per
// pixel and second. The app uploads at HEADROOM times that budget, and only when the source spends
// at least FAR_LARGER times as much as that upload would. HEADROOM is 1: the upload carries what
// the server will keep at most (the "at most the top rendition"); on a 10 Mbit/s uplink
// every extra megabit of headroom costs about 6 s a minute of clip.

export interface TopRendition {
  short_side: number;
  max_fps: number;
  bitrate_kbps: number;
  high_fps_bitrate_kbps: number;
}

export interface SourceVideo {
  bytes: number;
  seconds: number;
  width: number; // as displayed (after rotation)
  height: number;
  fps: number;
}

export interface CompressionPlan {
  compress: boolean;
  width: number;
  height: number;
  /** Frame rate to force, or null to keep the source's own timing. */
  fps: number | null;
  videoBitrate: number; // bits per second
  expectedBytes: number;
  sourceBitsPerPixelSecond: number;
  budgetBitsPerPixelSecond: number;
}

export const HEADROOM = 1;
export const FAR_LARGER = 2;
// Files below this are sent as they are without looking inside (a short phone recording).
export const MIN_BYTES = 8 * 1024 * 1024;
// Audio is copied as it is; this is what it is assumed to weigh when estimating the result.
export const AUDIO_BITS_PER_SECOND = 160_000;
// Encoding runs this many seconds of media before its speed is trusted.
export const PROBE_MEDIA_SECONDS = 2;

function even(value: number): number {
  return Math.max(2, Math.round(value / 2) * 2);
}

/** The picture the upload should have: the source's, scaled down so that its short side is at
 *  most the top rendition's (never up). */
export function outputPicture(width: number, height: number, top: TopRendition): { width: number; height: number } {
  const short = Math.min(width, height);
  if (short <= top.short_side) return { width: even(width), height: even(height) };
  const scale = top.short_side / short;
  return { width: even(width * scale), height: even(height * scale) };
}

/** The top rendition's cap per pixel and second at a frame rate (its pixels: a 16:9 picture). */
export function budgetPerPixelSecond(top: TopRendition, fps: number): number {
  const kbps = fps > 31 ? top.high_fps_bitrate_kbps : top.bitrate_kbps;
  return (kbps * 1000) / (top.short_side * Math.round((top.short_side * 16) / 9));
}

export function planCompression(source: SourceVideo, top: TopRendition): CompressionPlan {
  const picture = outputPicture(source.width, source.height, top);
  const fps = Math.min(source.fps || 30, top.max_fps);
  const budget = budgetPerPixelSecond(top, fps);
  const pixels = picture.width * picture.height;
  const videoBitrate = Math.round(budget * HEADROOM * pixels);
  const seconds = Math.max(source.seconds, 0.001);
  const spent = (source.bytes * 8) / seconds / pixels; // per pixel the upload would carry
  const expectedBytes = Math.round(((videoBitrate + AUDIO_BITS_PER_SECOND) * seconds) / 8);
  return {
    compress: source.bytes >= MIN_BYTES && spent >= budget * HEADROOM * FAR_LARGER,
    ...picture,
    fps: source.fps > top.max_fps ? top.max_fps : null,
    videoBitrate,
    expectedBytes,
    sourceBitsPerPixelSecond: spent,
    budgetBitsPerPixelSecond: budget,
  };
}

export interface SpeedCheck {
  encodedSeconds: number; // media seconds encoded so far
  elapsedSeconds: number; // wall time spent encoding them
  totalSeconds: number; // the clip's length
  originalBytes: number;
  expectedBytes: number;
  uplinkBytesPerSecond: number | null; // null: not measured
}

/** Seconds until the server has the file: sending the original now, or finishing the encode and
 *  sending the result. Time already spent encoding is gone either way, so it is not counted. */
export function remainingTimes(check: SpeedCheck): { original: number; compressed: number } | null {
  if (!check.uplinkBytesPerSecond || check.encodedSeconds <= 0 || check.elapsedSeconds <= 0) return null;
  const rate = check.encodedSeconds / check.elapsedSeconds;
  const encodeLeft = Math.max(0, check.totalSeconds - check.encodedSeconds) / rate;
  return {
    original: check.originalBytes / check.uplinkBytesPerSecond,
    compressed: encodeLeft + check.expectedBytes / check.uplinkBytesPerSecond,
  };
}

/** Keep compressing? Yes while the uplink is unknown (a slow phone link is the common case, and
 *  the smaller file also saves the user's data) or compressing still finishes sooner. */
export function worthCompressing(check: SpeedCheck): boolean {
  const times = remainingTimes(check);
  return times === null || times.compressed < times.original;
}

// Below this many seconds for sending the original, compression is not tried: the saving would
// be a few seconds at most, and a second encode costs picture quality (and battery).
export const MIN_UPLOAD_SECONDS = 10;

/** Before encoding anything: the original goes up quickly enough on this uplink. */
export function tooFastToBother(originalBytes: number, uplinkBytesPerSecond: number | null): boolean {
  return uplinkBytesPerSecond !== null && originalBytes / uplinkBytesPerSecond < MIN_UPLOAD_SECONDS;
}

/** The encoders to try, best first, among those the server accepts (FFmpeg names). */
export function encoderCodecs(accepted: string[]): ("avc" | "vp9" | "av1")[] {
  const names = { avc: "h264", vp9: "vp9", av1: "av1" } as const;
  return (["avc", "vp9", "av1"] as const).filter((codec) => accepted.includes(names[codec]));
}
