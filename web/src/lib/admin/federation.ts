// The Federation section's logic: the policies an admin can set, a server name read from a
// form field, a pasted list of servers read line by line, the list kept sorted as answers
// come in, and a list applied one server after the other. No I/O of its own: unit-tested.
import type { Schemas } from "../api/client";
import { serverName } from "../federation/server";

export type ServerPolicy = Schemas["DomainPolicy"];
export type RemoteServer = Schemas["RemoteServerPublic"];
export const POLICIES: readonly ServerPolicy[] = ["none", "allow", "silence", "reject_media", "suspend"];
// Pasting thousands of lines by mistake should not send thousands of requests.
export const MOST_AT_ONCE = 500;

/** What an admin typed or pasted as a server: a name, or an address (`https://host/`) whose
 *  host is taken; null when it names no server. */
export function readServer(text: string): string | null {
  const bare = text.trim().replace(/^https?:\/\//i, "").replace(/\/+$/, "");
  return serverName(bare);
}

export interface ServerList {
  servers: { server: string; line: number }[];
  invalid: { line: number; text: string }[];
}

/** A pasted list: one server per line; blank lines and `#` comments skipped (a CSV export of
 *  blocked domains starts with a `#domain,…` header), the first field of a CSV line taken, a
 *  server listed twice sent once. Lines are numbered from 1, as the text area shows them. */
export function readServerList(text: string): ServerList {
  const list: ServerList = { servers: [], invalid: [] };
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const field = line.split(/[,;\t]/)[0]; // a CSV or TSV line; a space inside a name is a mistake
    const server = readServer(field);
    if (!server) list.invalid.push({ line: index + 1, text: line });
    else if (!list.servers.some((known) => known.server === server)) list.servers.push({ server, line: index + 1 });
  });
  return list;
}

/** `servers` with `row` in its place: replacing the same server's row, or inserted in order. */
export function withServer(servers: RemoteServer[], row: RemoteServer): RemoteServer[] {
  return [...servers.filter((item) => item.server !== row.server), row]
    .sort((a, b) => (a.server < b.server ? -1 : a.server > b.server ? 1 : 0));
}

export type Applied = { server: string; row: RemoteServer } | { server: string; problem: string };

/** Sends each server's policy in turn (one request at a time: the server's limits and the
 *  admin's reading of the progress both follow), going on after a refusal; `progress` hears
 *  of each answer as it comes. */
export async function applyToEach(servers: string[], send: (server: string) => Promise<Applied>,
  progress: (applied: Applied, done: number) => void): Promise<Applied[]> {
  const answers: Applied[] = [];
  for (const server of servers) {
    let applied: Applied;
    try {
      applied = await send(server);
    } catch (error) {
      applied = { server, problem: error instanceof Error ? error.message : String(error) };
    }
    answers.push(applied);
    progress(applied, answers.length);
  }
  return answers;
}
