// The app's pages and their paths (the server answers every one of them with the app, see
// clipfeed.webapp).

export type Route =
  | { page: "feed"; tab: FeedTab; clip: string | null }
  | { page: "profile"; handle: string }
  | { page: "notifications" }
  | { page: "settings" }
  | { page: "search"; q: string; type: SearchType }
  | { page: "hashtag"; tag: string }
  | { page: "discover" }
  | { page: "studio"; section: StudioSection }
  | { page: "mod"; section: ModSection }
  | { page: "admin"; section: AdminSection }
  | { page: "create" }
  | { page: "missing" };
export type FeedTab = "foryou" | "following" | "hashtags";
export type SearchType = "all" | "clips" | "creators" | "hashtags";
const SEARCH_TYPES: SearchType[] = ["all", "clips", "creators", "hashtags"];

export const STUDIO_SECTIONS = ["clips", "analytics"] as const;
export type StudioSection = (typeof STUDIO_SECTIONS)[number];
export const MOD_SECTIONS = ["queue", "blocklist", "accounts", "audit"] as const;
export type ModSection = (typeof MOD_SECTIONS)[number];
export const ADMIN_SECTIONS = ["instance", "registration", "limits", "screening", "federation", "storage", "health",
  "audit"] as const;
export type AdminSection = (typeof ADMIN_SECTIONS)[number];

function section<T extends string>(path: string, base: string, sections: readonly T[]): T | null {
  if (path === base) return sections[0];
  const name = path.startsWith(`${base}/`) ? path.slice(base.length + 1) : "";
  return (sections as readonly string[]).includes(name) ? (name as T) : null;
}

export function parseRoute(path: string, search = ""): Route {
  const clip = new URLSearchParams(search).get("clip");
  if (path === "/" || path === "") return { page: "feed", tab: "foryou", clip: clip && /^\d+$/.test(clip) ? clip : null };
  if (path === "/following") return { page: "feed", tab: "following", clip: null };
  if (path === "/hashtags") return { page: "feed", tab: "hashtags", clip: null };
  if (path === "/discover") return { page: "discover" };
  if (path === "/search") {
    const query = new URLSearchParams(search);
    const type = query.get("type") as SearchType;
    return { page: "search", q: (query.get("q") ?? "").slice(0, 200), type: SEARCH_TYPES.includes(type) ? type : "all" };
  }
  const tag = /^\/tags\/([^/]{1,60})$/.exec(path);
  if (tag) {
    try {
      return { page: "hashtag", tag: decodeURIComponent(tag[1]).replace(/^#/, "") };
    } catch {
      return { page: "missing" }; // a broken %-escape
    }
  }
  const clipPath = /^\/c\/(\d+)$/.exec(path);
  if (clipPath) return { page: "feed", tab: "foryou", clip: clipPath[1] };
  // A profile: a handle of this server, or name@server for an account of another (its feed
  // cards, notifications and follow lists link here).
  const profile = /^\/@([\w.~-]{1,64}(@[\w.:-]{1,200})?)$/.exec(path);
  if (profile) return { page: "profile", handle: profile[1] };
  if (path === "/notifications") return { page: "notifications" };
  if (path === "/settings") return { page: "settings" };
  const studio = section(path, "/studio", STUDIO_SECTIONS);
  if (studio) return { page: "studio", section: studio };
  const mod = section(path, "/mod", MOD_SECTIONS);
  if (mod) return { page: "mod", section: mod };
  const admin = section(path, "/admin", ADMIN_SECTIONS);
  if (admin) return { page: "admin", section: admin };
  if (path === "/create") return { page: "create" };
  return { page: "missing" };
}

