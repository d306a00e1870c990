// How the studio and the moderation console write durations, shares and dates.

/** 1234 ms → "1.2 s"; 95000 → "1 min 35 s". */
export function watchTime(ms: number): string {
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const whole = Math.round(seconds);
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  if (hours) return `${hours} h ${minutes} min`;
  return `${minutes} min ${whole % 60} s`;
}

/** 0.4567 → "45.7 %". */
export function percent(share: number): string {
  return `${(share * 100).toFixed(1)} %`;
}

/** A timestamp in the reader's language and zone, short. */
export function when(iso: string, language: string): string {
  return new Intl.DateTimeFormat(language, { dateStyle: "medium", timeStyle: "short" }).format(new Date(iso));
}
