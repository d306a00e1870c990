// The minimal feed player: plays clips one after another with hls.js, prefetching the next two.
import Hls from "./vendor/hls-1.7.4.min.mjs";
import { Prefetcher, reportedNetwork } from "./prefetch.js";

const params = new URLSearchParams(location.search);
const ids = (params.get("clips") || "").split(",").filter(Boolean);
const network = params.get("network") || reportedNetwork();
const video = document.querySelector("video");
const status = document.querySelector("#status");
const state = { items: [], index: 0, hls: null, prefetcher: new Prefetcher() };
window.clipfeedPlayer = state;

async function playbackInfo(id) {
  const query = network ? `?network=${encodeURIComponent(network)}` : "";
  const response = await fetch(`/v1/clips/${id}/playback${query}`);
  if (!response.ok) throw new Error(`clip ${id}: ${response.status}`);
  return response.json();
}

function play(index) {
  const item = state.items[index];
  state.index = index;
  if (state.hls) state.hls.destroy();
  video.poster = item.poster_url || "";
  const startLevel = item.renditions.findIndex((r) => r.name === item.start_rendition);
  if (Hls.isSupported()) {
    state.hls = new Hls({ startLevel: startLevel >= 0 ? startLevel : -1, capLevelToPlayerSize: false });
    state.hls.loadSource(item.hls_url);
    state.hls.attachMedia(video);
  } else {
    video.src = item.hls_url; // Safari plays HLS natively
  }
  video.play().catch(() => {});
  status.textContent = `clip ${index + 1} of ${state.items.length} (${item.start_rendition})`;
  // Prefetch only once this clip has started, so it never competes with the visible one.
  video.addEventListener("playing", () => state.prefetcher.warm(state.items, index), { once: true });
}

document.querySelector("#next").addEventListener("click", () => {
  if (state.index + 1 < state.items.length) play(state.index + 1);
});

state.items = await Promise.all(ids.map(playbackInfo));
if (state.items.length) play(0);
