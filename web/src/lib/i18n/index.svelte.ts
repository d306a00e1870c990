// Every string of the app goes through here. The language is the saved choice, else the
// browser's first supported one; components re-render on a change through `locale.current`.
import i18next from "i18next";

import en from "./en";
import fr from "./fr";

export const LANGUAGES = { en: "English", fr: "Français" } as const;
export type Language = keyof typeof LANGUAGES;
const SAVED = "clipfeed.language";

function preferred(): Language {
  const saved = globalThis.localStorage?.getItem(SAVED);
  if (saved && saved in LANGUAGES) return saved as Language;
  for (const tag of globalThis.navigator?.languages ?? []) {
    const base = tag.slice(0, 2);
    if (base in LANGUAGES) return base as Language;
  }
  return "en";
}

await i18next.init({
  lng: preferred(), fallbackLng: "en", resources: { en: { translation: en }, fr: { translation: fr } },
  interpolation: { escapeValue: false }, // Svelte escapes what it renders
});

export const locale = $state({ current: i18next.language as Language });

export function t(key: string, options?: Record<string, unknown>): string {
  void locale.current; // a reactive read: callers re-render when the language changes
  return i18next.t(key, options) as string;
}

export async function setLanguage(language: Language): Promise<void> {
  await i18next.changeLanguage(language);
  localStorage.setItem(SAVED, language);
  document.documentElement.lang = language;
  locale.current = language;
}
