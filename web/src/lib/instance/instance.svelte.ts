// The instance's name, description and sign-up mode (GET /v1/instance): the page title and the
// sign-up screen follow them. Loaded once after start-up and again when an admin changes them.
import { api } from "../api/client";

export const instance = $state({ name: "", description: "", registration_mode: "open" as "open" | "closed" | "invite",
  loaded: false });

export async function loadInstance(): Promise<void> {
  const { data } = await api.GET("/v1/instance");
  if (!data) return; // offline: the built-in title stays
  Object.assign(instance, data, { loaded: true });
  document.title = data.name;
}
