// The Undo offers shown after a dismissal (UndoBar.svelte), each for `UNDO_MS`: longer than a
// toast, to leave time to reach its button.
export interface UndoOffer {
  id: number;
  text: string;
  undo: () => void;
}

const UNDO_MS = 8000;
let next = 1;
export const offers = $state<{ items: UndoOffer[] }>({ items: [] });

export function offerUndo(text: string, undo: () => void): void {
  const id = next++;
  offers.items.push({ id, text, undo });
  setTimeout(() => withdraw(id), UNDO_MS);
}

export function withdraw(id: number): void {
  offers.items = offers.items.filter((offer) => offer.id !== id);
}
