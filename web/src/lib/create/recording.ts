// What the browser can record: the container and codecs the recorder should ask for (MP4 with
// H.264 first, which every player and our server read; WebM otherwise), and the recorded takes.

export const RECORDING_TYPES = [
  "video/mp4;codecs=avc1.640028,mp4a.40.2",
  "video/mp4;codecs=avc1,mp4a",
  "video/mp4",
  "video/webm;codecs=vp9,opus",
  "video/webm;codecs=vp8,opus",
  "video/webm",
];

export function recordingType(isSupported: (type: string) => boolean): string | null {
  return RECORDING_TYPES.find((type) => isSupported(type)) ?? null;
}

export function extensionOf(type: string): string {
  return type.startsWith("video/mp4") ? "mp4" : "webm";
}

export interface Take {
  id: number;
  blob: Blob;
  seconds: number;
  url: string;
}

export function totalSeconds(takes: Take[]): number {
  return takes.reduce((sum, take) => sum + take.seconds, 0);
}

/** Why the camera could not start, as a key of the create strings. */
export function cameraProblem(error: unknown): "denied" | "missing" | "busy" | "insecure" | "other" {
  const name = error instanceof DOMException || error instanceof Error ? error.name : "";
  if (name === "NotAllowedError" || name === "SecurityError") return "denied";
  if (name === "NotFoundError" || name === "OverconstrainedError") return "missing";
  if (name === "NotReadableError" || name === "AbortError") return "busy";
  if (name === "TypeError") return "insecure";
  return "other";
}
