// Several takes made one file before upload. The browser has no way to concatenate recorded
// MP4/WebM files as they are, so each take is played in turn into a canvas (picture) and a
// Web Audio destination (sound), and that stream is recorded again in the same format. It takes
// as long as the takes last; one take is sent as it is.
import type { Take } from "./recording";

function once(target: EventTarget, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    target.addEventListener(name, () => resolve(), { once: true });
    target.addEventListener("error", () => reject(new Error(`could not play a take (${name})`)), { once: true });
  });
}

export async function joinTakes(takes: Take[], type: string, onProgress: (share: number) => void): Promise<Blob> {
  const video = document.createElement("video");
  video.playsInline = true;
  video.preload = "auto";
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d")!;
  const audio = new AudioContext();
  const sound = audio.createMediaStreamDestination();
  audio.createMediaElementSource(video).connect(sound); // recorded, not played aloud
  let started = false;
  const chunks: Blob[] = [];
  let recorder: MediaRecorder | null = null;
  const total = takes.reduce((sum, take) => sum + take.seconds, 0) || 1;
  let done = 0;
  try {
    for (const take of takes) {
      video.src = take.url;
      await once(video, "loadedmetadata");
      if (!started) {
        canvas.width = video.videoWidth || 720;
        canvas.height = video.videoHeight || 1280;
        const stream = new MediaStream([...canvas.captureStream(30).getVideoTracks(), ...sound.stream.getAudioTracks()]);
        recorder = new MediaRecorder(stream, { mimeType: type });
        recorder.ondataavailable = (event) => event.data.size && chunks.push(event.data);
        recorder.start(1000);
        started = true;
      } else {
        recorder!.resume();
      }
      await audio.resume();
      let drawing = true;
      const draw = () => {
        if (!drawing) return;
        // Letterboxed into the first take's frame (a switched camera may differ in size).
        const scale = Math.min(canvas.width / video.videoWidth, canvas.height / video.videoHeight);
        const width = video.videoWidth * scale;
        const height = video.videoHeight * scale;
        context.fillStyle = "#000";
        context.fillRect(0, 0, canvas.width, canvas.height);
        context.drawImage(video, (canvas.width - width) / 2, (canvas.height - height) / 2, width, height);
        onProgress(Math.min(1, (done + video.currentTime) / total));
        requestAnimationFrame(draw);
      };
      const ended = once(video, "ended");
      await video.play();
      draw();
      await ended;
      drawing = false;
      recorder!.pause();
      done += take.seconds;
    }
    const stopped = once(recorder!, "stop");
    recorder!.stop();
    await stopped;
    return new Blob(chunks, { type });
  } finally {
    video.removeAttribute("src");
    void audio.close();
  }
}
