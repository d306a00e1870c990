// A tiny history router over the paths of routes.ts.
import { parseRoute } from "./routes";

export const router = $state({ route: parseRoute(location.pathname, location.search) });

export function navigate(path: string, replace = false): void {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  const url = new URL(path, location.origin);
  router.route = parseRoute(url.pathname, url.search);
}

window.addEventListener("popstate", () => (router.route = parseRoute(location.pathname, location.search)));
