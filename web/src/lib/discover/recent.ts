// Recent searches, kept on this device only (localStorage), newest first, without repeats.
const KEY = "clipfeed.recentSearches";
export const MAX_RECENT = 10;

type Storage = Pick<globalThis.Storage, "getItem" | "setItem" | "removeItem">;

export function readRecent(storage: Storage | undefined = globalThis.localStorage): string[] {
  try {
    const found: unknown = JSON.parse(storage?.getItem(KEY) ?? "[]");
    return Array.isArray(found) ? found.filter((item): item is string => typeof item === "string").slice(0, MAX_RECENT) : [];
  } catch {
    return []; // a damaged entry is forgotten, not fatal
  }
}

export function rememberSearch(query: string, storage: Storage | undefined = globalThis.localStorage): string[] {
  const text = query.trim().replace(/\s+/g, " ");
  if (!text) return readRecent(storage);
  const list = [text, ...readRecent(storage).filter((item) => item.toLowerCase() !== text.toLowerCase())]
    .slice(0, MAX_RECENT);
  storage?.setItem(KEY, JSON.stringify(list));
  return list;
}

export function forgetSearch(query: string, storage: Storage | undefined = globalThis.localStorage): string[] {
  const list = readRecent(storage).filter((item) => item !== query);
  storage?.setItem(KEY, JSON.stringify(list));
  return list;
}

export function clearRecent(storage: Storage | undefined = globalThis.localStorage): void {
  storage?.removeItem(KEY);
}
