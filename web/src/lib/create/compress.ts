// Re-encoding a large file in the browser before upload (WebCodecs through mediabunny, which
// demuxes, drives the encoders and muxes in TypeScript). Imported lazily by the compress step,
// so neither the feed nor the create page's first load carries it. The decision is
// compress-plan.ts's; here the file is read, the encode started, its speed checked against the
// uplink after its first seconds, and the result returned, or why the original goes instead.
// The encoder writes into an EncodedFile as it goes, which the upload reads from its first bytes.
import {
  ALL_FORMATS, BlobSource, BufferTarget, Conversion, ConversionCanceledError, getEncodableVideoCodecs, Input,
  Mp4OutputFormat, Output, Quality, StreamTarget, type StreamTargetChunk, WebMOutputFormat,
} from "mediabunny";

import { session } from "../session.svelte";
import { type CompressionPlan, encoderCodecs, planCompression, PROBE_MEDIA_SECONDS, type SourceVideo,
  type TopRendition, tooFastToBother, worthCompressing } from "./compress-plan";
import { EncodedFile } from "./encoded-file";

// One keyframe a second: every cut of the server's segments (0, 1, 3, 5… s, media/ladder.py)
// then falls on one, so the server may keep the browser's encode as its top rendition instead
// of encoding it again.
export const KEYFRAME_SECONDS = 1;
// Set when the encoder has written its last byte (performance.getEntriesByName): the create
// journeys and bench/web_create.mjs compare it with when the first chunk went out.
export const ENCODED_MARK = "clipfeed:encoded";

// Two probes, a small one and a large one: the difference of their times is the transfer alone,
// without the request's fixed cost (which on a fast link would otherwise dominate).
export const PROBE_BYTES = [64 * 1024, 1_000_000] as const; // the server takes up to 1 MiB

async function timedProbe(bytes: number): Promise<number | null> {
  const body = new Uint8Array(bytes); // random, so that nothing on the way can shrink it
  for (let at = 0; at < body.length; at += 65536) crypto.getRandomValues(body.subarray(at, at + 65536));
  const began = performance.now();
  try {
    const response = await fetch("/v1/upload-probe", { method: "POST", body,
      headers: { Authorization: `Bearer ${session.access()}`, "Content-Type": "application/octet-stream" } });
    if (!response.ok) return null;
  } catch {
    return null;
  }
  return (performance.now() - began) / 1000;
}

/** The uplink in bytes per second, or null when a probe fails. */
export async function measureUplink(): Promise<number | null> {
  const [small, large] = PROBE_BYTES;
  const smallSeconds = await timedProbe(small);
  const largeSeconds = smallSeconds === null ? null : await timedProbe(large);
  if (smallSeconds === null || largeSeconds === null) return null;
  return (large - small) / Math.max(0.001, largeSeconds - smallSeconds);
}

export interface Inspection {
  input: Input;
  source: SourceVideo;
  plan: CompressionPlan;
}

/** What the file holds, and the plan for it; null when the browser cannot read it (the server
 *  will judge it as it is). */
export async function inspect(file: File, top: TopRendition): Promise<Inspection | null> {
  const input = new Input({ source: new BlobSource(file), formats: ALL_FORMATS });
  try {
    const video = await input.getPrimaryVideoTrack();
    if (!video) return null;
    const [seconds, width, height, stats] = await Promise.all([input.computeDuration(), video.getDisplayWidth(),
      video.getDisplayHeight(), video.computePacketStats(120)]);
    const source = { bytes: file.size, seconds, width, height, fps: stats.averagePacketRate };
    return { input, source, plan: planCompression(source, top) };
  } catch {
    input.dispose();
    return null;
  }
}

export type Outcome =
  | { kind: "compressed"; file: File; encoded: EncodedFile } // file: the whole of encoded
  | { kind: "slower" } // sending the original is sooner
  | { kind: "skipped" } // the user chose to send the original
  | { kind: "unsupported" }; // no encoder, or a track would be lost

export interface CompressOptions {
  acceptedCodecs: string[];
  uplink: number | null;
  onProgress: (share: number) => void;
  /** The file the encoder writes into, once the encode is set up: its bytes may go up as they
   *  come. It is finished when the outcome is "compressed", and fails otherwise. */
  onOutput: (encoded: EncodedFile) => void;
  /** Aborted by the user's "send the original". */
  signal: AbortSignal;
}

export async function compress(file: File, inspection: Inspection, options: CompressOptions): Promise<Outcome> {
  const outputs: EncodedFile[] = [];
  const onOutput = (encoded: EncodedFile) => {
    outputs.push(encoded);
    options.onOutput(encoded);
  };
  try {
    return await encode(file, inspection, { ...options, onOutput });
  } finally {
    inspection.input.dispose();
    // Stopped by the user, the speed check or an error: whoever reads the bytes hears of it (a
    // finished file stays as it is).
    for (const encoded of outputs) encoded.fail(new Error("the encode stopped before the end"));
  }
}

/** Where mediabunny's output goes. A fragmented MP4 is written front to back (moov first, then
 *  one fragment after another, never going back), so its bytes can leave before the end. WebM
 *  could only stream without its duration and cues (appendOnly), which the server needs to judge
 *  the file: VP9 is encoded whole into memory and appended in one go at the end, so its upload
 *  starts when the encode ends, as before. */
function outputFor(codec: string, encoded: EncodedFile): { output: Output; finish: () => void } {
  if (codec === "vp9") {
    const target = new BufferTarget();
    return { output: new Output({ format: new WebMOutputFormat(), target }),
      finish: () => encoded.write(new Uint8Array(target.buffer!), 0) };
  }
  const writable = new WritableStream<StreamTargetChunk>({ write: (chunk) => encoded.write(chunk.data, chunk.position) });
  return { output: new Output({ format: new Mp4OutputFormat({ fastStart: "fragmented" }), target: new StreamTarget(writable) }),
    finish: () => undefined };
}

async function encode(file: File, { input, source, plan }: Inspection, options: CompressOptions): Promise<Outcome> {
  if (options.signal.aborted) return { kind: "skipped" };
  if (tooFastToBother(file.size, options.uplink)) return { kind: "slower" };
  const candidates = encoderCodecs(options.acceptedCodecs);
  const quality = new Quality({ bitrate: plan.videoBitrate });
  const [codec] = await getEncodableVideoCodecs(candidates, { width: plan.width, height: plan.height, quality });
  if (!codec) return { kind: "unsupported" };
  // MP4 for H.264 and AV1; VP9 goes in WebM, which every player and FFmpeg read.
  const extension = codec === "vp9" ? "webm" : "mp4";
  const encoded = new EncodedFile(`${file.name.replace(/\.[^.]+$/, "")}.${extension}`, `video/${extension}`);
  const { output, finish } = outputFor(codec, encoded);
  const conversion = await Conversion.init({
    input, output, tracks: "primary", showWarnings: false,
    video: { width: plan.width, height: plan.height, fit: "fill", codec, quality, forceTranscode: true,
      keyFrameInterval: KEYFRAME_SECONDS, ...(plan.fps ? { frameRate: plan.fps } : {}) },
  });
  if (!conversion.isValid || conversion.discardedTracks.some((track) => track.reason !== "discarded_by_user")) {
    return { kind: "unsupported" };
  }
  if (options.signal.aborted) return { kind: "skipped" }; // pressed while the encoder was being set up
  options.onOutput(encoded);
  let outcome: Outcome | null = null;
  const began = performance.now();
  let checked = false;
  conversion.onProgress = (share, processed) => {
    options.onProgress(share);
    if (checked || processed < PROBE_MEDIA_SECONDS) return;
    checked = true;
    const keep = worthCompressing({ encodedSeconds: processed, elapsedSeconds: (performance.now() - began) / 1000,
      totalSeconds: source.seconds, originalBytes: file.size, expectedBytes: plan.expectedBytes,
      uplinkBytesPerSecond: options.uplink });
    if (!keep) {
      outcome = { kind: "slower" };
      void conversion.cancel();
    }
  };
  const skip = () => {
    outcome = { kind: "skipped" };
    void conversion.cancel();
  };
  options.signal.addEventListener("abort", skip, { once: true });
  try {
    await conversion.execute();
  } catch (error) {
    // Cancelled by the speed check or the user: the encoder's pending work may then fail with
    // another error than ConversionCanceledError ("Output has been canceled").
    if (outcome) return outcome;
    if (error instanceof ConversionCanceledError) return { kind: "skipped" };
    throw error;
  } finally {
    options.signal.removeEventListener("abort", skip);
  }
  finish();
  encoded.finish();
  performance.mark(ENCODED_MARK);
  return { kind: "compressed", file: encoded.file(), encoded };
}
