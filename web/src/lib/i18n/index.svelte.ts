// Every string of the app goes through here. The language is the saved choice, else the
// browser's first supported one; components re-render on a change through `locale.current`.
// English is in the first bundle (it is also the fallback); another language's strings load
// when it is chosen.
import en from "./en";
import { type Dictionary, translate } from "./translate";

export const LANGUAGES = { en: "English", fr: "Français" } as const;
export type Language = keyof typeof LANGUAGES;
const SAVED = "clipfeed.language";
const loaders: Record<Language, () => Promise<Dictionary>> = {
  en: async () => en,
  fr: async () => (await import("./fr")).default,
};
const dictionaries: Partial<Record<Language, Dictionary>> = { en: { ...en } };
// Strings of pages outside the feed route, added when such a page first loads (`addStrings`).
const areas: Record<Language, () => Promise<Dictionary>>[] = [];

function preferred(): Language {
  const saved = globalThis.localStorage?.getItem(SAVED);
  if (saved && saved in LANGUAGES) return saved as Language;
  for (const tag of globalThis.navigator?.languages ?? []) {
    const base = tag.slice(0, 2);
    if (base in LANGUAGES) return base as Language;
  }
  return "en";
}

async function load(language: Language): Promise<void> {
  const core = (dictionaries[language] ??= { ...(await loaders[language]()) });
  for (const area of await Promise.all(areas.map((loadArea) => loadArea[language]()))) Object.assign(core, area);
}

/** A page's own strings (top-level keys of their own), in every language: the feed route does
 * not carry them. Await it before the page renders (a module-level `await` does). */
export async function addStrings(area: Record<Language, () => Promise<Dictionary>>): Promise<void> {
  areas.push(area);
  const languages = [...new Set<Language>(["en", locale.current])];
  const found = await Promise.all(languages.map((language) => area[language]()));
  languages.forEach((language, i) => Object.assign((dictionaries[language] ??= {}), found[i]));
}

const first = preferred();
await load(first);
export const locale = $state({ current: first });

export function t(key: string, options?: Record<string, unknown>): string {
  return translate(locale.current, dictionaries, "en", key, options); // a reactive read: callers re-render on a change
}

export async function setLanguage(language: Language): Promise<void> {
  await load(language);
  localStorage.setItem(SAVED, language);
  document.documentElement.lang = language;
  locale.current = language;
}
