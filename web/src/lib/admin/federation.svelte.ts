// The Federation section's state: the remote servers, loaded when the section opens, each
// change the admin makes (a policy, how clips are played) replacing its server's row with the
// server's answer (or adding it); and the policies set by software name, listed again after
// each change.
import { api } from "../api/client";
import { t } from "../i18n/index.svelte";
import { showProblem } from "../problems";
import { type Applied, type MediaChoice, type RemoteServer, type ServerPolicy, type SoftwarePolicy, withServer,
  withServers } from "./federation";

export const remote = $state({ servers: [] as RemoteServer[], loaded: false, problem: "" });
export const bySoftware = $state({ items: [] as SoftwarePolicy[], loaded: false, problem: "" });

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

async function update(server: string, body: { policy?: ServerPolicy; media?: MediaChoice }): Promise<Applied> {
  try {
    const answer = await api.PUT("/v1/admin/federation/servers/{server}", { params: { path: { server } }, body });
    if (!answer.data) return { server, problem: said(answer) };
    remote.servers = withServer(remote.servers, answer.data);
    return { server, row: answer.data };
  } catch {
    return { server, problem: t("errors.offline") };
  }
}

/** Sets `server`'s policy; the server's row as it now stands, or the problem in words. */
export function setPolicy(server: string, policy: ServerPolicy): Promise<Applied> {
  return update(server, { policy });
}

/** Sets how `server`'s clips are played (`default`: as the instance's setting says). */
export function setMedia(server: string, media: MediaChoice): Promise<Applied> {
  return update(server, { media });
}

export async function loadSoftware(): Promise<void> {
  try {
    const answer = await api.GET("/v1/admin/federation/software");
    if (!answer.data) {
      bySoftware.problem = said(answer);
      return;
    }
    bySoftware.items = answer.data.items;
    bySoftware.loaded = true;
    bySoftware.problem = "";
  } catch {
    bySoftware.problem = t("errors.offline");
  }
}

/** Sets the policy of every server running `software`, met so far or later (`none` forgets
 *  it); how many servers met so far it changed, or the problem in words. The list of policies
 *  by software is read again either way, so it shows what the server kept. */
export async function setSoftwarePolicy(software: string, policy: ServerPolicy):
  Promise<{ changed: number } | { problem: string }> {
  let outcome: { changed: number } | { problem: string };
  try {
    const answer = await api.PUT("/v1/admin/federation/software/{software}",
      { params: { path: { software } }, body: { policy } });
    if (answer.data) {
      remote.servers = withServers(remote.servers, answer.data.items);
      outcome = { changed: answer.data.items.length };
    } else {
      outcome = { problem: said(answer) };
    }
  } catch {
    outcome = { problem: t("errors.offline") };
  }
  await loadSoftware();
  return outcome;
}
