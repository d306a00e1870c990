// Attaching a clip's HLS to a <video>: hls.js where Media Source Extensions exist (starting at
// the rendition the server chose for this viewer's network, then adapting), the browser's own
// HLS elsewhere (Safari), and the progressive MP4 as the last resort.
// The light build: no subtitles, alternate audio or DRM, which clips do not have (a third of the size).
import Hls from "hls.js/light";

import type { Schemas } from "../api/client";

export interface Attached {
  detach(): void;
  /** The clip is on screen now: buffer as far ahead as a playing clip does. */
  playing(): void;
  hls: Hls | null;
}

/** Seconds buffered ahead: a playing clip, and the clip a swipe shows next (enough to start at once). */
export const BUFFER_S = { playing: 10, waiting: 3 } as const;

export function startLevelFor(info: Schemas["PlaybackInfo"], levels: { height: number }[]): number {
  const start = info.renditions?.find((r) => r.name === info.start_rendition);
  if (!start) return -1;
  return levels.findIndex((level) => level.height === start.height);
}

/** `onRendition` hears the height of each level hls.js switches to (the adaptation at work);
 *  a clip attached "waiting" buffers its first seconds only, until `playing()` is called. */
export function attach(video: HTMLVideoElement, info: Schemas["PlaybackInfo"],
  onRendition: (height: number) => void = () => {}, state: keyof typeof BUFFER_S = "playing"): Attached {
  if (info.hls_url && Hls.isSupported()) {
    const hls: Hls = new Hls({ capLevelToPlayerSize: false, maxBufferLength: BUFFER_S[state], backBufferLength: 10 });
    hls.on(Hls.Events.MANIFEST_PARSED, (_event, data) => {
      const level = startLevelFor(info, data.levels);
      if (level >= 0) hls.startLevel = level; // before the first fragment loads; ABR takes over after
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, (_event, data) => onRendition(hls.levels[data.level]?.height ?? 0));
    hls.loadSource(info.hls_url);
    hls.attachMedia(video);
    return {
      hls,
      detach: () => hls.destroy(),
      // hls.js reads its buffer target from its config on every tick.
      playing: () => void (hls.config.maxBufferLength = BUFFER_S.playing),
    };
  }
  video.src = (info.hls_url && video.canPlayType("application/vnd.apple.mpegurl") ? info.hls_url : info.mp4_url) ?? "";
  if (state === "waiting") video.preload = "auto"; // the browser's own player buffers the start
  return {
    hls: null,
    playing() {},
    detach() {
      video.removeAttribute("src");
      video.load();
    },
  };
}
