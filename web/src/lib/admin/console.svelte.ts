// The admin console's settings: loaded once per visit, each save or reset replacing its entry
// with what the server answered (the effective value, the environment's, overridden or not).
import { api, type Schemas } from "../api/client";
import { t } from "../i18n/index.svelte";
import { loadInstance } from "../instance/instance.svelte";
import { showProblem } from "../problems";
import { toast } from "../toasts.svelte";

export type Setting = Schemas["SettingPublic"];
// Settings the page title or the sign-up screen show: the app reloads /v1/instance after them.
const INSTANCE = new Set(["instance_name", "instance_description", "registration_mode"]);

export const settings = $state({ items: [] as Setting[], loaded: false, problem: "" });

export async function loadSettings(): Promise<void> {
  const { data, error, response } = await api.GET("/v1/admin/settings");
  if (!data) {
    settings.problem = showProblem(error, response.status, response.headers.get("Retry-After"), t).message;
    return;
  }
  settings.items = data.items;
  settings.loaded = true;
  settings.problem = "";
}

async function apply(name: string, answer: { data?: Setting; error?: unknown; response: Response }): Promise<string | null> {
  if (!answer.data) {
    return showProblem(answer.error, answer.response.status, answer.response.headers.get("Retry-After"), t).message;
  }
  const fresh = answer.data;
  settings.items = settings.items.map((item) => (item.name === name ? fresh : item));
  if (INSTANCE.has(name)) await loadInstance();
  return null;
}

/** Saves `value` for `name`; the problem's message when the server refuses it. */
export async function save(name: string, value: unknown): Promise<string | null> {
  return apply(name, await api.PUT("/v1/admin/settings/{name}", { params: { path: { name } }, body: { value } }));
}

export async function reset(name: string): Promise<string | null> {
  return apply(name, await api.DELETE("/v1/admin/settings/{name}", { params: { path: { name } } }));
}

/** One setting's form (a field, or the screening table): Save and Reset, busy while the server
 *  answers, the problem in words beside the form, a toast once it is done. */
export class SettingForm {
  problem = $state("");
  busy = $state(false);
  #name: () => string;
  #label: () => string;

  constructor(name: () => string, label: () => string) {
    this.#name = name;
    this.#label = label;
  }

  /** Saves what the form read, or says why it cannot be read (a key of the console's strings). */
  async save(read: { value: unknown } | { error: string }): Promise<void> {
    if ("error" in read) {
      this.problem = t(read.error);
      return;
    }
    await this.#send(() => save(this.#name(), read.value), "admin.field.saved");
  }

  async reset(): Promise<void> {
    await this.#send(() => reset(this.#name()), "admin.field.wasReset");
  }

  async #send(request: () => Promise<string | null>, done: string): Promise<void> {
    this.busy = true;
    this.problem = (await request()) ?? "";
    this.busy = false;
    if (!this.problem) toast(t(done, { name: this.#label() }));
  }
}
