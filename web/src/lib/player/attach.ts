// Attaching a clip's HLS to a <video>: hls.js where Media Source Extensions exist (starting at
// the rendition the server chose for this viewer's network, then adapting), the browser's own
// HLS elsewhere (Safari), and the progressive MP4 as the last resort.
// The light build: no subtitles, alternate audio or DRM, which clips do not have (a third of the size).
import Hls from "hls.js/light";

import type { Schemas } from "../api/client";

export interface Attached {
  detach(): void;
  hls: Hls | null;
}

export function startLevelFor(info: Schemas["PlaybackInfo"], levels: { height: number }[]): number {
  const start = info.renditions?.find((r) => r.name === info.start_rendition);
  if (!start) return -1;
  return levels.findIndex((level) => level.height === start.height);
}

/** `onRendition` hears the height of each level hls.js switches to (the adaptation at work). */
export function attach(video: HTMLVideoElement, info: Schemas["PlaybackInfo"],
  onRendition: (height: number) => void = () => {}): Attached {
  if (info.hls_url && Hls.isSupported()) {
    const hls: Hls = new Hls({ capLevelToPlayerSize: false, maxBufferLength: 10, backBufferLength: 10 });
    hls.on(Hls.Events.MANIFEST_PARSED, (_event, data) => {
      const level = startLevelFor(info, data.levels);
      if (level >= 0) hls.startLevel = level; // before the first fragment loads; ABR takes over after
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, (_event, data) => onRendition(hls.levels[data.level]?.height ?? 0));
    hls.loadSource(info.hls_url);
    hls.attachMedia(video);
    return { hls, detach: () => hls.destroy() };
  }
  video.src = (info.hls_url && video.canPlayType("application/vnd.apple.mpegurl") ? info.hls_url : info.mp4_url) ?? "";
  return {
    hls: null,
    detach() {
      video.removeAttribute("src");
      video.load();
    },
  };
}
