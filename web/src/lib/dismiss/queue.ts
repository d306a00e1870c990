// Taking clips out of the queue a viewer is watching ("Not interested", "Hide this creator")
// and putting them back where they were (Undo): pure, so the store and its tests share it.

export interface Removal<T> {
  /** The entries taken out, with where each stood in the queue, in queue order. */
  taken: { position: number; entry: T }[];
  /** Where the viewer was when they were taken out. */
  index: number;
}

/** The queue without the entries `gone` picks, and the position the viewer moves to: the
 * same clip if it stays, or the one that slid into the place of the one they were watching. */
export function removeEntries<T>(entries: T[], index: number, gone: (entry: T) => boolean):
  { entries: T[]; index: number; removal: Removal<T> } {
  const taken = entries.flatMap((entry, position) => (gone(entry) ? [{ position, entry }] : []));
  const kept = entries.filter((entry) => !gone(entry));
  const before = taken.filter((t) => t.position < index).length;
  const moved = Math.max(0, Math.min(kept.length - 1, index - before));
  return { entries: kept, index: moved, removal: { taken, index } };
}

/** The queue with a removal's entries back in their places (those already back, by `key`, are
 * skipped) and the viewer back where they were when they were taken out. */
export function restoreEntries<T>(entries: T[], removal: Removal<T>, key: (entry: T) => string):
  { entries: T[]; index: number } {
  const present = new Set(entries.map(key));
  const queue = [...entries];
  for (const { position, entry } of removal.taken) {
    if (present.has(key(entry))) continue;
    queue.splice(Math.min(position, queue.length), 0, entry);
  }
  return { entries: queue, index: Math.max(0, Math.min(queue.length - 1, removal.index)) };
}
