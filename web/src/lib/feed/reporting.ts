// The app's one event queue, sending to POST /v1/events. A refused batch (4xx other than 401
// and 429) is dropped: the server reported each bad event and resending cannot fix them.
import { api } from "../api/client";
import { EventQueue } from "./events";

export const events = new EventQueue(async (batch, keepalive) => {
  const { response } = await api.POST("/v1/events", { body: { events: batch } as never, keepalive });
  if (response.ok) return "sent";
  return response.status === 401 || response.status === 429 || response.status >= 500 ? "failed" : "refused";
});
