// Identifiers the app makes: event IDs (so a resent batch never counts twice), idempotency keys
// of writes, and the anonymous device ID the feed and the events share.

export function newId(): string {
  return crypto.randomUUID();
}

const DEVICE_KEY = "clipfeed.device";

export function deviceId(storage: Pick<Storage, "getItem" | "setItem"> = localStorage): string {
  let id = storage.getItem(DEVICE_KEY);
  if (!id || !/^[A-Za-z0-9_-]{8,64}$/.test(id)) {
    id = crypto.randomUUID().replaceAll("-", "");
    storage.setItem(DEVICE_KEY, id);
  }
  return id;
}
