// The #hashtag or @mention being typed at the caret of a caption, and the caption with a
// chosen completion put in its place.

export interface Typing {
  sigil: "#" | "@";
  /** What follows the sigil so far (may be empty right after typing "#"). */
  word: string;
  /** Index of the sigil in the caption. */
  start: number;
  /** Index just after the word (the caret). */
  end: number;
}

const WORD = /[\p{L}\p{N}_.]*$/u;

export function typingAt(caption: string, caret: number): Typing | null {
  const before = caption.slice(0, caret);
  const word = WORD.exec(before)?.[0] ?? "";
  const start = caret - word.length - 1;
  if (start < 0) return null;
  const sigil = caption[start];
  if (sigil !== "#" && sigil !== "@") return null;
  // "a#b" or "me@host" are not tags or mentions: the sigil starts a word.
  if (start > 0 && /[\p{L}\p{N}_]/u.test(caption[start - 1])) return null;
  return { sigil, word, start, end: caret };
}

/** The caption with `choice` (without its sigil) in place of the word being typed, and the caret after it. */
export function complete(caption: string, typing: Typing, choice: string): { caption: string; caret: number } {
  const inserted = `${typing.sigil}${choice} `;
  const rest = caption.slice(typing.end).replace(/^[\p{L}\p{N}_.]*\s?/u, "");
  return { caption: caption.slice(0, typing.start) + inserted + rest, caret: typing.start + inserted.length };
}

/** The hashtags of a caption (lower case, no sigil, each once), as the upload's metadata lists them. */
export function hashtagsOf(caption: string): string[] {
  const tags = [...caption.matchAll(/(?:^|[^\p{L}\p{N}_])#([\p{L}\p{N}_]{1,50})/gu)].map((m) => m[1].toLowerCase());
  return [...new Set(tags)];
}
