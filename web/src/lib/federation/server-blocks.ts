// A person's block of a whole server (`/v1/me/domain-blocks`), for the places that offer it
// beside one of its accounts (the remote account card of search): whether it stands, block,
// unblock. Each answer says what went wrong in words for a person, or the state the server kept.
import type { createApi } from "../api/client";
import { showProblem } from "../problems";

type Api = ReturnType<typeof createApi>;
type Translate = (key: string, options?: Record<string, unknown>) => string;

/** What a block or unblock came to: the state the server now holds, or why it failed. */
export type ServerBlockOutcome = { ok: true; blocking: boolean } | { ok: false; message: string };

/** Whether the signed-in person blocks `server`; null when that cannot be read (offline). */
export async function readServerBlock(client: Api, server: string): Promise<boolean | null> {
  try {
    const { data } = await client.GET("/v1/me/domain-blocks/{domain}", { params: { path: { domain: server } } });
    return data ? data.blocking : null;
  } catch {
    return null;
  }
}

/** Block (`blocking`) or unblock `server`; both are idempotent on the server. */
export async function setServerBlock(client: Api, server: string, blocking: boolean,
  t: Translate): Promise<ServerBlockOutcome> {
  try {
    const { data, error, response } = blocking
      ? await client.POST("/v1/me/domain-blocks", { body: { domain: server } })
      : await client.DELETE("/v1/me/domain-blocks/{domain}", { params: { path: { domain: server } } });
    if (data) return { ok: true, blocking: data.blocking };
    return { ok: false, message: showProblem(error, response.status, response.headers.get("Retry-After"), t).message };
  } catch {
    return { ok: false, message: t("errors.offline") };
  }
}
