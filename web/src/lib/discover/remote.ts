// Which search queries name an account of another server: `@name@server`, `name@server`, or
// a profile address as other servers print it (`https://server/@name`, and `https://server/@name@home`
// for someone that server itself knows from elsewhere). Such a query is looked up through the
// server (GET /v1/federation/lookup) instead of searched. Pure: unit-tested.
import { serverName } from "../federation/server";

export interface RemoteAccount {
  name: string;
  server: string; // host[:port], lower case, as the server stores and shows it
  account: string; // name@server, what the lookup is asked
}

const NAME = /^[^\s@/?#:]{1,100}$/;

function named(name: string, server: string): RemoteAccount | null {
  const host = serverName(server);
  // A name without a dot or a port (`cats`, `localhost`) is a word, not a server, in a search box.
  if (!NAME.test(name) || !host || !/[.:]/.test(host)) return null;
  return { name, server: host, account: `${name}@${host}` };
}

function fromProfileUrl(text: string): RemoteAccount | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if ((url.protocol !== "https:" && url.protocol !== "http:") || url.username || url.password) return null;
  let pathname: string;
  try {
    pathname = decodeURIComponent(url.pathname);
  } catch {
    return null; // a broken %-escape
  }
  const path = /^\/@([^/@]+)(?:@([^/@]+))?\/?$/.exec(pathname);
  if (!path) return null;
  return named(path[1], path[2] ?? url.host);
}

/** The account a search query names, or null for an ordinary search. */
export function remoteAccount(query: string): RemoteAccount | null {
  const text = query.trim();
  if (!text || text.length > 300 || /\s/.test(text)) return null;
  if (/^https?:\/\//i.test(text)) return fromProfileUrl(text);
  const parts = /^@?([^@]+)@([^@]+)$/.exec(text);
  return parts ? named(parts[1], parts[2]) : null;
}
