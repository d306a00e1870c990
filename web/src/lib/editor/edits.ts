// The editor's state and the edit list it sends (the server's EditList: tus metadata "edits" on
// a new upload, POST /v1/clips/{id}/edits on a re-edit). Times in the state are on the source
// (trim) or on the edited clip (cover, texts), as in the edit list.
import type { Schemas } from "../api/client";
import { editedLength, type Trim } from "./trim";

type Wire = Schemas["EditList"];
// The edit list as the editor writes it: fields left out take the server's defaults.
export type TextOverlay = Partial<Schemas["TextOverlay"]> & { text: string };
export type BackgroundAudio = Partial<Schemas["BackgroundAudio"]> & { key: string };
export type EditList = Partial<Omit<Wire, "texts" | "audio">> & { texts?: TextOverlay[]; audio?: BackgroundAudio | null };
export const SPEEDS = [0.5, 1, 2] as const;
export const MAX_TEXTS = 10;
export const COLORS = ["#ffffff", "#ffd400", "#ff4f8b", "#37d67a", "#3aa0ff", "#000000"] as const;

export interface TextItem {
  id: number;
  text: string;
  x: number;
  y: number;
  size: number;
  color: string;
  box: boolean;
  start: number;
  end: number | null; // null: to the end
}

export interface SoundChoice {
  key: string;
  mode: "mix" | "replace";
  balance: number; // 0 = only the original sound, 1 = only the background, 0.5 = both at full
}

export interface EditorState {
  duration: number; // the source's
  trim: Trim;
  speed: number;
  cover: number | null; // on the edited clip
  texts: TextItem[];
  sound: SoundChoice | null;
}

let nextText = 1;

export function newText(text: string, at: number): TextItem {
  return { id: nextText++, text, x: 0.5, y: 0.5, size: 0.06, color: "#ffffff", box: true, start: at, end: null };
}

export function initialState(duration: number, from?: EditList | null): EditorState {
  const edits = from ?? {};
  const end = edits.trim_end != null ? Math.min(edits.trim_end, duration) : duration;
  return {
    duration,
    trim: { start: Math.min(edits.trim_start ?? 0, Math.max(0, end - 0.5)), end },
    speed: edits.speed ?? 1,
    cover: edits.cover_time ?? null,
    texts: (edits.texts ?? []).map((t) => ({ id: nextText++, text: t.text, x: t.x ?? 0.5, y: t.y ?? 0.85,
      size: t.size ?? 0.05, color: t.color ?? "#ffffff", box: t.box ?? true, start: t.start ?? 0, end: t.end ?? null })),
    sound: edits.audio ? { key: edits.audio.key, mode: edits.audio.mode ?? "mix",
      balance: balanceOf(edits.audio.volume ?? 1, edits.audio.original_volume ?? 1) } : null,
  };
}

/** Volumes from the balance: each side at full until the middle, then fading to nothing. */
export function volumes(balance: number): { sound: number; original: number } {
  const b = Math.min(1, Math.max(0, balance));
  const r = (v: number) => Math.round(v * 1000) / 1000;
  return { sound: r(Math.min(1, 2 * b)), original: r(Math.min(1, 2 * (1 - b))) };
}

export function balanceOf(sound: number, original: number): number {
  if (sound >= 1 && original >= 1) return 0.5;
  return sound < 1 ? Math.max(0, sound / 2) : Math.min(1, 1 - original / 2);
}

const r3 = (value: number) => Math.round(value * 1000) / 1000;

/** The edit list for the server: only what differs from "no edit", times clamped to the clip. */
export function buildEdits(state: EditorState): EditList {
  const edits: EditList = {};
  const length = editedLength(state.trim, state.speed);
  if (state.trim.start > 0) edits.trim_start = r3(state.trim.start);
  if (state.trim.end < state.duration - 0.001) edits.trim_end = r3(state.trim.end);
  if (state.speed !== 1) edits.speed = state.speed;
  if (state.cover != null) edits.cover_time = r3(Math.min(Math.max(0, state.cover), Math.max(0, length - 0.05)));
  const texts = state.texts.filter((t) => t.text.trim()).map((t) => {
    const start = r3(Math.min(Math.max(0, t.start), Math.max(0, length - 0.1)));
    const end = t.end == null || t.end >= length ? null : r3(Math.max(t.end, start + 0.1));
    return { text: t.text.trim(), x: r3(t.x), y: r3(t.y), size: r3(t.size), color: t.color.toLowerCase(), box: t.box,
      start, ...(end == null ? {} : { end }) };
  });
  if (texts.length) edits.texts = texts.slice(0, MAX_TEXTS);
  if (state.sound) {
    const v = volumes(state.sound.balance);
    edits.audio = { key: state.sound.key, mode: state.sound.mode, volume: v.sound,
      original_volume: state.sound.mode === "replace" ? 1 : v.original };
  }
  return edits;
}

/** Is the overlay on screen at `time` on the edited clip? (drawtext's between(t, start, end)) */
export function showing(text: TextItem, time: number): boolean {
  return time >= text.start && (text.end == null || time <= text.end);
}

/** The edit list with every default spelled out, as the API's request type wants it. */
export function complete(edits: EditList): Wire {
  return {
    ...edits, mute: edits.mute ?? false, rotate: edits.rotate ?? 0, speed: edits.speed ?? 1, trim_start: edits.trim_start ?? 0,
    texts: (edits.texts ?? []).map((text) => ({ x: 0.5, y: 0.85, size: 0.05, color: "#ffffff", box: true, start: 0, ...text })),
    audio: edits.audio ? { mode: "mix", volume: 1, original_volume: 1, offset: 0, ...edits.audio } : null,
  };
}
