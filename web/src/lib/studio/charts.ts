// The arithmetic of the studio's SVG charts: a rounded top for the value axis, a few ticks on
// it, and the points of a series inside a plot box. No drawing here, so it is testable.

/** The smallest 1, 2 or 5 × 10ⁿ at or above `value` (at least 1): the top of the value axis. */
export function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

/** Evenly spaced values from 0 to `top`, `count` intervals. */
export function ticks(top: number, count = 4): number[] {
  return Array.from({ length: count + 1 }, (_, i) => (top * i) / count);
}

export interface Box {
  width: number;
  height: number;
  left: number;
  bottom: number;
  top?: number;
  right?: number;
}

/** Screen coordinates of each value; x spreads the values across the plot's width. */
export function points(values: number[], box: Box, top: number): [number, number][] {
  const inner = box.width - box.left - (box.right ?? 8);
  const tall = box.height - box.bottom - (box.top ?? 8);
  const step = values.length > 1 ? inner / (values.length - 1) : 0;
  return values.map((value, i) => [
    round(box.left + (values.length > 1 ? i * step : inner / 2)),
    round(box.height - box.bottom - (Math.max(0, value) / top) * tall),
  ]);
}

/** An SVG path through the points ("M x y L x y …"). */
export function linePath(pts: [number, number][]): string {
  return pts.map(([x, y], i) => `${i ? "L" : "M"}${x} ${y}`).join(" ");
}

/** The same path closed down to the baseline, for a filled area under the line. */
export function areaPath(pts: [number, number][], baseline: number): string {
  if (!pts.length) return "";
  return `${linePath(pts)} L${pts[pts.length - 1][0]} ${baseline} L${pts[0][0]} ${baseline} Z`;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

/** Consecutive UTC days from `from` to `to` inclusive, as YYYY-MM-DD. */
export function dayRange(from: string, to: string): string[] {
  const days: string[] = [];
  for (let day = new Date(`${from}T00:00:00Z`); day <= new Date(`${to}T00:00:00Z`);
    day = new Date(day.getTime() + 86_400_000)) {
    days.push(day.toISOString().slice(0, 10));
  }
  return days;
}

/** The period ending today (UTC) that is `days` long, as the analytics API takes it. */
export function lastDays(days: number, today = new Date()): { from: string; to: string } {
  const to = today.toISOString().slice(0, 10);
  const from = new Date(today.getTime() - (days - 1) * 86_400_000).toISOString().slice(0, 10);
  return { from, to };
}
