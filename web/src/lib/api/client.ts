// The one HTTP client of the app: typed from the server's OpenAPI document (generated at build
// time). It adds the bearer token, the device ID (so anonymous feeds and events are one
// viewer), an Idempotency-Key on every write, and refreshes an expired token once, silently.
import createClient, { type Middleware } from "openapi-fetch";

import { deviceId, newId } from "../ids";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];

export interface Credentials {
  access(): string | null;
  /** Get a new access token (rotating the refresh token); false when the session is over. */
  refresh(): Promise<boolean>;
}

let credentials: Credentials = { access: () => null, refresh: async () => false };

export function useCredentials(value: Credentials): void {
  credentials = value;
}

const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);

function authMiddleware(send: (request: Request) => Promise<Response>): Middleware {
  const retries = new Map<string, Request>();
  return {
    onRequest({ request, id }) {
      const token = credentials.access();
      if (token) request.headers.set("Authorization", `Bearer ${token}`);
      request.headers.set("X-Device-ID", deviceId());
      request.headers.set("X-Device-Type", "web");
      if (WRITES.has(request.method) && !request.headers.has("Idempotency-Key")) {
        request.headers.set("Idempotency-Key", newId());
      }
      // Kept to be sent again after a refresh, with the same Idempotency-Key.
      if (token && !request.url.includes("/v1/auth/")) retries.set(id, request.clone());
      return request;
    },
    async onResponse({ response, id }) {
      const original = retries.get(id);
      retries.delete(id);
      if (response.status !== 401 || !original) return response;
      if (!(await credentials.refresh())) return response;
      original.headers.set("Authorization", `Bearer ${credentials.access()}`);
      return send(original);
    },
    onError({ id }) {
      retries.delete(id);
    },
  };
}

/** A client on `baseUrl` sending with `send` (tests give their own). */
export function createApi(baseUrl = "", send: (request: Request) => Promise<Response> = (r) => globalThis.fetch(r)) {
  const client = createClient<paths>({ baseUrl, fetch: send });
  client.use(authMiddleware(send));
  return client;
}

export const api = createApi();
