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
const retries = new Map<string, Request>();

const auth: Middleware = {
  onRequest({ request, id }) {
    const token = credentials.access();
    if (token) request.headers.set("Authorization", `Bearer ${token}`);
    request.headers.set("X-Device-ID", deviceId());
    request.headers.set("X-Device-Type", "web");
    if (WRITES.has(request.method) && !request.headers.has("Idempotency-Key")) {
      request.headers.set("Idempotency-Key", newId());
    }
    if (token && !request.url.includes("/v1/auth/")) retries.set(id, request.clone());
    return request;
  },
  async onResponse({ response, id }) {
    const original = retries.get(id);
    retries.delete(id);
    if (response.status !== 401 || !original) return response;
    if (!(await credentials.refresh())) return response;
    original.headers.set("Authorization", `Bearer ${credentials.access()}`);
    return fetch(original);
  },
  onError({ id }) {
    retries.delete(id);
  },
};

export const api = createClient<paths>({ baseUrl: "" });
api.use(auth);
