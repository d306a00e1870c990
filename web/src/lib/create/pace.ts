// Upload speed and time left from progress samples, smoothed over the last few seconds so the
// figures do not jump with every chunk.

export interface Sample {
  at: number; // ms
  bytes: number;
}

export const WINDOW_MS = 5000;

export class Pace {
  #samples: Sample[] = [];

  add(bytes: number, at = Date.now()): void {
    const last = this.#samples.at(-1);
    if (last && bytes < last.bytes) this.#samples = []; // restarted from a lower offset
    this.#samples.push({ at, bytes });
    while (this.#samples.length > 2 && at - this.#samples[0].at > WINDOW_MS) this.#samples.shift();
  }

  reset(): void {
    this.#samples = [];
  }

  /** Bytes per second, or null before two samples a moment apart. */
  speed(): number | null {
    const first = this.#samples[0];
    const last = this.#samples.at(-1);
    if (!first || !last || last.at - first.at < 300) return null;
    return ((last.bytes - first.bytes) * 1000) / (last.at - first.at);
  }

  /** Seconds left for `total` bytes at the current speed, or null when unknown. */
  secondsLeft(total: number): number | null {
    const speed = this.speed();
    const last = this.#samples.at(-1);
    if (!speed || !last || speed <= 0) return null;
    return Math.max(0, (total - last.bytes) / speed);
  }
}

export function formatBytes(bytes: number, language: string): string {
  const units = ["byte", "kilobyte", "megabyte", "gigabyte"] as const;
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return new Intl.NumberFormat(language, { style: "unit", unit: units[unit], unitDisplay: "short",
    maximumFractionDigits: unit === 0 ? 0 : 1 }).format(value);
}

export function formatSpeed(bytesPerSecond: number, language: string): string {
  const megabits = (bytesPerSecond * 8) / 1e6;
  return new Intl.NumberFormat(language, { style: "unit", unit: "megabit-per-second", unitDisplay: "short",
    maximumFractionDigits: megabits < 10 ? 1 : 0 }).format(megabits);
}

export function formatDuration(seconds: number): string {
  const total = Math.max(0, Math.round(seconds));
  const minutes = Math.floor(total / 60);
  return `${minutes}:${String(total % 60).padStart(2, "0")}`;
}
