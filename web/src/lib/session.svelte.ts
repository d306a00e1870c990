// The signed-in person: tokens kept in localStorage, the access token refreshed silently with
// rotation (a refresh token works once; two tabs refreshing at once share one request).
import { api, type Schemas, useCredentials } from "./api/client";

const SAVED = "clipfeed.session";

interface Saved {
  access: string;
  refresh: string;
  user: Schemas["UserPrivate"];
}

function load(): Saved | null {
  try {
    return JSON.parse(localStorage.getItem(SAVED) ?? "null") as Saved | null;
  } catch {
    return null;
  }
}

class Session {
  #saved: Saved | null = load();
  user = $state<Schemas["UserPrivate"] | null>(this.#saved?.user ?? null);
  /** Set when an action needs an account: the sign-in dialog opens and says why. */
  asking = $state(false);
  #refreshing: Promise<boolean> | null = null;

  get signedIn(): boolean {
    return this.user !== null;
  }

  access(): string | null {
    return this.#saved?.access ?? null;
  }

  store(pair: Schemas["TokenPair"]): void {
    this.#saved = { access: pair.access_token, refresh: pair.refresh_token, user: pair.user };
    localStorage.setItem(SAVED, JSON.stringify(this.#saved));
    this.user = pair.user;
    this.asking = false;
  }

  forget(): void {
    this.#saved = null;
    localStorage.removeItem(SAVED);
    this.user = null;
  }

  refresh(): Promise<boolean> {
    this.#refreshing ??= this.#rotate().finally(() => (this.#refreshing = null));
    return this.#refreshing;
  }

  async #rotate(): Promise<boolean> {
    // Another tab may have rotated already: its tokens are in storage.
    const latest = load();
    if (latest && latest.access !== this.#saved?.access) {
      this.#saved = latest;
      return true;
    }
    const refresh = this.#saved?.refresh;
    if (!refresh) return false;
    const { data } = await api.POST("/v1/auth/refresh", { body: { refresh_token: refresh } });
    if (!data) {
      this.forget();
      return false;
    }
    this.store(data);
    return true;
  }

  async signOut(): Promise<void> {
    const refresh = this.#saved?.refresh;
    if (refresh) await api.POST("/v1/auth/logout").catch(() => undefined);
    this.forget();
  }

  /** True when signed in; otherwise opens the sign-in dialog (and the caller stops). */
  require(): boolean {
    if (this.user) return true;
    this.asking = true;
    return false;
  }
}

export const session = new Session();
useCredentials(session);
