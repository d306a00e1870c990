// The Federation section's list of remote servers: loaded when the section opens, each policy
// the admin sets replacing its server's row with the server's answer (or adding it).
import { api } from "../api/client";
import { t } from "../i18n/index.svelte";
import { showProblem } from "../problems";
import { type Applied, type RemoteServer, type ServerPolicy, withServer } from "./federation";

export const remote = $state({ servers: [] as RemoteServer[], loaded: false, problem: "" });

function said(answer: { error?: unknown; response: Response }): string {
  return showProblem(answer.error, answer.response.status, answer.response.headers.get("Retry-After"), t).message;
}

export async function loadServers(): Promise<void> {
  try {
    const answer = await api.GET("/v1/admin/federation/servers");
    if (!answer.data) {
      remote.problem = said(answer);
      return;
    }
    remote.servers = answer.data.items;
    remote.loaded = true;
    remote.problem = "";
  } catch {
    remote.problem = t("errors.offline");
  }
}

/** Sets `server`'s policy; the server's row as it now stands, or the problem in words. */
export async function setPolicy(server: string, policy: ServerPolicy): Promise<Applied> {
  try {
    const answer = await api.PUT("/v1/admin/federation/servers/{server}",
      { params: { path: { server } }, body: { policy } });
    if (!answer.data) return { server, problem: said(answer) };
    remote.servers = withServer(remote.servers, answer.data);
    return { server, row: answer.data };
  } catch {
    return { server, problem: t("errors.offline") };
  }
}
