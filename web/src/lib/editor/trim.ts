// Trim maths: the kept range of the source, the handles' positions on the filmstrip, and the
// clip's own timeline after trim and speed (where cover and text times live, as on the server:
// src/clipfeed/media/edits.py).

export const MIN_LENGTH_S = 0.5; // the server refuses a shorter trimmed clip
export const KEY_STEP_S = 0.1; // one arrow key press
export const PAGE_STEP_S = 1; // Page Up / Page Down

export interface Trim {
  start: number;
  end: number;
}

const round = (value: number) => Math.round(value * 1000) / 1000;

/** The handle's time for a pointer at `x` on a strip `width` wide showing `duration` seconds. */
export function timeAt(x: number, width: number, duration: number): number {
  if (width <= 0) return 0;
  return round(Math.min(1, Math.max(0, x / width)) * duration);
}

/** Where on the strip (0..1) a time sits. */
export function fractionOf(time: number, duration: number): number {
  return duration > 0 ? Math.min(1, Math.max(0, time / duration)) : 0;
}

/** Moves one handle to `time`, kept inside the source and at least MIN_LENGTH_S from the other. */
export function moveHandle(trim: Trim, handle: "start" | "end", time: number, duration: number): Trim {
  const shortest = Math.min(MIN_LENGTH_S, duration);
  if (handle === "start") {
    return { start: round(Math.min(Math.max(0, time), trim.end - shortest)), end: trim.end };
  }
  return { start: trim.start, end: round(Math.max(Math.min(duration, time), trim.start + shortest)) };
}

/** The new time of a handle after a key press (slider keys: arrows, Page Up/Down, Home, End);
 * null for a key a slider does not handle. */
export function keyedTime(key: string, time: number, duration: number): number | null {
  switch (key) {
    case "ArrowLeft": case "ArrowDown": return time - KEY_STEP_S;
    case "ArrowRight": case "ArrowUp": return time + KEY_STEP_S;
    case "PageDown": return time - PAGE_STEP_S;
    case "PageUp": return time + PAGE_STEP_S;
    case "Home": return 0;
    case "End": return duration;
    default: return null;
  }
}

/** How long the edited clip lasts. */
export function editedLength(trim: Trim, speed: number): number {
  return round((trim.end - trim.start) / speed);
}

/** Source time → the edited clip's time. */
export function toEdited(sourceTime: number, trim: Trim, speed: number): number {
  return round((sourceTime - trim.start) / speed);
}

/** The edited clip's time → source time. */
export function toSource(editedTime: number, trim: Trim, speed: number): number {
  return round(trim.start + editedTime * speed);
}

/** The times of `count` filmstrip thumbnails, each in the middle of its slice of the source. */
export function stripTimes(duration: number, count: number): number[] {
  if (duration <= 0 || count <= 0) return [];
  return Array.from({ length: count }, (_, index) => round(((index + 0.5) / count) * duration));
}

/** "1.5 s" style labels for aria-valuetext. */
export function seconds(value: number): string {
  return `${(Math.round(value * 10) / 10).toFixed(1)}`;
}
