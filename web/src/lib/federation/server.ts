// What names another server, as the API takes it: a host name with its port when not the
// default (`video.example`, `127.0.0.1:8001`), 3 to 255 characters, stored in lower case.
// Shared by the search box (remote accounts) and the admin console (server policies).

export const SERVER_PATTERN = /^[A-Za-z0-9.-]+(:[0-9]{1,5})?$/;

/** A server's name as the API takes it (lower case), or null when it is not one. */
export function serverName(text: string): string | null {
  const server = text.trim().toLowerCase();
  if (server.length < 3 || server.length > 255 || !SERVER_PATTERN.test(server)) return null;
  const [host, port] = server.split(":");
  // The API's pattern lets these through; no server is named so, and its answer would be a 404.
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return null;
  if (!host || /^[.-]|\.$|\.\./.test(host)) return null;
  return server;
}

/** The server of an account's handle (`bea@video.example` → `video.example`), or null for an
 * account of this server (a handle without `@`). What the profile's "Block server" names. */
export function serverOf(handle: string): string | null {
  const at = handle.lastIndexOf("@");
  return at > 0 ? serverName(handle.slice(at + 1)) : null;
}
