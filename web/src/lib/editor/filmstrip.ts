// Filmstrip thumbnails made in the browser from the local video: a second, hidden video element
// seeks to each time and a canvas keeps the frame as a small JPEG data URL.
import { stripTimes } from "./trim";

function seek(video: HTMLVideoElement, time: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      video.removeEventListener("seeked", done);
      resolve();
    };
    video.addEventListener("seeked", done);
    video.currentTime = time;
  });
}

export async function thumbnails(src: string, count: number, height = 64,
  onThumb?: (index: number, url: string) => void): Promise<string[]> {
  const video = document.createElement("video");
  video.muted = true;
  video.preload = "auto";
  video.playsInline = true;
  video.src = src;
  await new Promise<void>((resolve, reject) => {
    video.addEventListener("loadeddata", () => resolve(), { once: true });
    video.addEventListener("error", () => reject(new Error("the video could not be read")), { once: true });
  });
  const duration = await mediaDuration(video);
  const canvas = document.createElement("canvas");
  canvas.height = height;
  canvas.width = Math.max(1, Math.round((video.videoWidth / Math.max(1, video.videoHeight)) * height));
  const context = canvas.getContext("2d");
  const urls: string[] = [];
  for (const [index, time] of stripTimes(duration, count).entries()) {
    await seek(video, time);
    context?.drawImage(video, 0, 0, canvas.width, canvas.height);
    urls.push(canvas.toDataURL("image/jpeg", 0.7));
    onThumb?.(index, urls[index]);
  }
  video.removeAttribute("src");
  video.load();
  return urls;
}

/** The duration, also for a MediaRecorder WebM that reports Infinity until read to its end. */
export async function mediaDuration(video: HTMLVideoElement): Promise<number> {
  if (Number.isFinite(video.duration) && video.duration > 0) return video.duration;
  await new Promise<void>((resolve) => {
    const changed = () => {
      if (Number.isFinite(video.duration)) {
        video.removeEventListener("durationchange", changed);
        resolve();
      }
    };
    video.addEventListener("durationchange", changed);
    video.currentTime = 1e9;
  });
  const duration = video.duration;
  await seek(video, 0);
  return duration;
}
