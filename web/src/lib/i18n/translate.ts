// Looking a string up in a dictionary, as i18next did for this app, in a few hundred bytes
// instead of 14 kB gzipped on the feed route (web/README.md, "The feed route's budget"):
// nested keys ("feed.label"), {{name}} interpolation, plurals by `count` with the language's
// Intl.PluralRules categories (key_one, key_other, …), the fallback dictionary when a key is
// missing, and the key itself as the last resort.
export type Dictionary = { [key: string]: string | Dictionary };

function lookup(dictionary: Dictionary | undefined, key: string): string | undefined {
  let node: string | Dictionary | undefined = dictionary;
  for (const part of key.split(".")) {
    if (node === undefined || typeof node === "string") return undefined;
    node = node[part];
  }
  return typeof node === "string" ? node : undefined;
}

const rules = new Map<string, Intl.PluralRules>();

function plural(language: string, count: number): string {
  let rule = rules.get(language);
  if (!rule) rules.set(language, (rule = new Intl.PluralRules(language)));
  return rule.select(count);
}

export function translate(language: string, dictionaries: Record<string, Dictionary | undefined>, fallback: string,
  key: string, options: Record<string, unknown> = {}): string {
  const count = options.count;
  const find = (lang: string): string | undefined => {
    const dictionary = dictionaries[lang];
    if (typeof count === "number") {
      const found = lookup(dictionary, `${key}_${plural(lang, count)}`) ?? lookup(dictionary, `${key}_other`);
      if (found !== undefined) return found;
    }
    return lookup(dictionary, key);
  };
  const text = find(language) ?? find(fallback) ?? key;
  return text.replace(/\{\{\s*(\w+)\s*\}\}/g, (whole, name: string) =>
    name in options ? String(options[name]) : whole);
}
