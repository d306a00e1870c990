// Short messages at the bottom of the screen (a refused like, a copied link). Read by screen
// readers through the live region that shows them.

export interface Toast {
  id: number;
  text: string;
}

let next = 1;
export const toasts = $state<{ items: Toast[] }>({ items: [] });

export function toast(text: string, ms = 4000): void {
  const id = next++;
  toasts.items.push({ id, text });
  setTimeout(() => (toasts.items = toasts.items.filter((item) => item.id !== id)), ms);
}
