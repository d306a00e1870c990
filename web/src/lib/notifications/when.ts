// "3 min ago", "yesterday", "2 weeks ago" in the app's language: how a list of notifications
// says when, with the full date kept for the tooltip.
const STEPS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["second", 60], ["minute", 60], ["hour", 24], ["day", 7], ["week", 4.345], ["month", 12], ["year", Infinity],
];

export function relativeTime(then: Date, now: Date, language: string): string {
  let amount = (then.getTime() - now.getTime()) / 1000;
  const format = new Intl.RelativeTimeFormat(language, { numeric: "auto" });
  for (const [unit, size] of STEPS) {
    if (Math.abs(amount) < size) {
      // Under a minute is "now": seconds would tick while the list is read.
      return unit === "second" ? format.format(0, "second") : format.format(Math.round(amount), unit);
    }
    amount /= size;
  }
  return format.format(Math.round(amount), "year");
}
