// The Federation section's logic: the policies an admin can set, how a server's clips are
// played (streamed or cached), a server or software name read from a form field, a pasted
// list of servers read line by line, the list kept sorted as answers come in, and a list
// applied one server after the other. No I/O of its own: unit-tested.
import type { Schemas } from "../api/client";
import { serverName } from "../federation/server";

export type ServerPolicy = Schemas["DomainPolicy"];
export type RemoteServer = Schemas["RemoteServerPublic"];
export type SoftwarePolicy = Schemas["SoftwarePolicyPublic"];
export const POLICIES: readonly ServerPolicy[] = ["none", "allow", "silence", "reject_media", "suspend"];
export type MediaMode = Schemas["MediaMode"];
/** What an admin picks for a server's clips: its own setting, or `default` (the instance's). */
export type MediaChoice = MediaMode | "default";
export const MEDIA_CHOICES: readonly MediaChoice[] = ["stream", "cache", "default"];
// Pasting thousands of lines by mistake should not send thousands of requests.
export const MOST_AT_ONCE = 500;

/** What an admin typed or pasted as a server: a name, or an address (`https://host/`) whose
 *  host is taken; null when it names no server. */
export function readServer(text: string): string | null {
  const bare = text.trim().replace(/^https?:\/\//i, "").replace(/\/+$/, "");
  return serverName(bare);
}

/** A server's media setting as the select shows it. */
export function mediaChoice(row: RemoteServer): MediaChoice {
  return row.media ?? "default";
}

/** The instance's media setting, as the rows show it: the mode of any server without a setting
 *  of its own (null when every server listed has one: the API says it nowhere else). */
export function instanceMedia(servers: RemoteServer[]): MediaMode | null {
  return servers.find((row) => row.media === null)?.media_effective ?? null;
}

const SOFTWARE = /^[a-z0-9._-]{1,60}$/;

/** A software name as a server's NodeInfo gives it and the API takes it (`mastodon`,
 *  `peertube`), in lower case; null when it cannot be one. */
export function readSoftware(text: string): string | null {
  const name = text.trim().toLowerCase();
  return SOFTWARE.test(name) ? name : null;
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

/** `servers` with each of `rows` in its place (a policy by software answers the rows it changed). */
export function withServers(servers: RemoteServer[], rows: RemoteServer[]): RemoteServer[] {
  return rows.reduce(withServer, servers);
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
