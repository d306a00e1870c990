// Numbers as the feed shows them: 1234 → "1.2K" in the app's language.
export function compactCount(value: number, language: string): string {
  return new Intl.NumberFormat(language, { notation: "compact", maximumFractionDigits: 1 }).format(value);
}

/** A caption cut into text, #hashtags and @mentions (each a link in the overlay). */
export type CaptionPart = { kind: "text" | "tag" | "mention"; text: string; value: string };

export function captionParts(caption: string): CaptionPart[] {
  const parts: CaptionPart[] = [];
  let last = 0;
  for (const match of caption.matchAll(/(^|[^\p{L}\p{N}_])([#@])([\p{L}\p{N}_.]{1,50})/gu)) {
    const start = (match.index ?? 0) + match[1].length;
    if (start > last) parts.push({ kind: "text", text: caption.slice(last, start), value: "" });
    const value = match[3].replace(/\.+$/, "");
    parts.push({ kind: match[2] === "#" ? "tag" : "mention", text: match[2] + value, value });
    last = start + 1 + value.length;
  }
  if (last < caption.length) parts.push({ kind: "text", text: caption.slice(last), value: "" });
  return parts;
}
