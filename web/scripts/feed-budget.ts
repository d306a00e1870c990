// The feed route's JavaScript budget (issue 15: ≤ 150 kB gzipped), checked on every build: what
// a new visitor's first load of the feed downloads. Counted: the entry chunk and everything it
// imports statically, plus every chunk imported dynamically *except* those loaded only when the
// viewer leaves the feed, opens something or signs in (other pages, the sign-in dialog, the share
// sheet, the comments drawer, the notification badge's stream, other languages): a lazy import
// the feed route makes anyway (hls.js, say) still counts.
import { gzipSync } from "node:zlib";

import type { OutputBundle, OutputChunk } from "rollup";
import type { Plugin } from "vite";

/** Modules the feed route never loads by itself. */
export const ON_DEMAND = [/\/src\/routes\//, /\/SignInDialog\.svelte$/, /\/ShareSheet\.svelte$/,
  /\/CommentsDrawer\.svelte$/, /\/notifications\/inbox\.svelte\.ts$/, /\/i18n\/(?!en\.ts$)[a-z]{2}\.ts$/];

export function feedRouteFiles(bundle: OutputBundle, onDemand: RegExp[] = ON_DEMAND): string[] {
  const chunks = Object.values(bundle).filter((file): file is OutputChunk => file.type === "chunk");
  const byName = new Map(chunks.map((chunk) => [chunk.fileName, chunk]));
  const counted = new Set<string>();
  const visit = (name: string) => {
    const chunk = byName.get(name);
    if (!chunk || counted.has(name)) return;
    counted.add(name);
    chunk.imports.forEach(visit);
    for (const lazy of chunk.dynamicImports) {
      const facade = byName.get(lazy)?.facadeModuleId ?? "";
      if (!onDemand.some((pattern) => pattern.test(facade))) visit(lazy);
    }
  };
  chunks.filter((chunk) => chunk.isEntry).forEach((chunk) => visit(chunk.fileName));
  return [...counted];
}

export function feedBudget(limitKb: number): Plugin {
  return {
    name: "clipfeed-feed-budget",
    apply: "build",
    generateBundle(_options, bundle) {
      const files = feedRouteFiles(bundle); // gzip at its default level, as vite reports sizes
      const sizes = files.map((name) => {
        const chunk = bundle[name] as OutputChunk;
        return { name, kb: gzipSync(chunk.code).length / 1000 };
      });
      const total = sizes.reduce((sum, file) => sum + file.kb, 0);
      const report = sizes.sort((a, b) => b.kb - a.kb).map((f) => `  ${f.name} ${f.kb.toFixed(2)} kB`).join("\n");
      console.log(`feed route JS: ${total.toFixed(2)} kB gzipped (budget ${limitKb} kB)\n${report}`);
      if (total > limitKb) this.error(`the feed route ships ${total.toFixed(2)} kB of JS gzipped, over its ${limitKb} kB budget`);
    },
  };
}
