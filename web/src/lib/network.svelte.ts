// Whether the browser is online; the banner shows while it is not, and work waiting for the
// network (events, the feed's next page) resumes on the "online" event.
export const network = $state({ online: typeof navigator === "undefined" ? true : navigator.onLine });

if (typeof window !== "undefined") {
  window.addEventListener("online", () => (network.online = true));
  window.addEventListener("offline", () => (network.online = false));
}
