// The app's pages and their paths (the server answers every one of them with the app, see
// clipfeed.webapp).

export type Route =
  | { page: "feed"; tab: "foryou" | "following"; clip: string | null }
  | { page: "profile"; handle: string }
  | { page: "notifications" }
  | { page: "settings" }
  | { page: "create" }
  | { page: "missing" };

export function parseRoute(path: string, search = ""): Route {
  const clip = new URLSearchParams(search).get("clip");
  if (path === "/" || path === "") return { page: "feed", tab: "foryou", clip: clip && /^\d+$/.test(clip) ? clip : null };
  if (path === "/following") return { page: "feed", tab: "following", clip: null };
  const clipPath = /^\/c\/(\d+)$/.exec(path);
  if (clipPath) return { page: "feed", tab: "foryou", clip: clipPath[1] };
  const profile = /^\/@([A-Za-z0-9_.]{1,40})$/.exec(path);
  if (profile) return { page: "profile", handle: profile[1] };
  if (path === "/notifications") return { page: "notifications" };
  if (path === "/settings") return { page: "settings" };
  if (path === "/create") return { page: "create" };
  return { page: "missing" };
}

