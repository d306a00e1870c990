// Recorded takes kept on the device (IndexedDB, through idb-keyval) until they are posted or
// deleted, so a reload, a crash or a closed tab loses no recording. Each take is stored under
// its owner's id and its number; a person sees only their own takes on a shared device.
import { createStore, del, delMany, entries, set, type UseStore } from "idb-keyval";

import type { Take } from "./recording";

export interface StoredTake {
  owner: string;
  id: number;
  blob: Blob;
  seconds: number;
  type: string; // the recorder's MIME type, needed to join takes again
}

let store: UseStore | null = null;

function takesStore(): UseStore {
  store ??= createStore("clipfeed-create", "takes");
  return store;
}

const keyOf = (owner: string, id: number) => `${owner}:${id}`;

/** Keeps a take; a failure (private browsing, a full disk) only means it will not survive a reload. */
export async function keepTake(owner: string, take: Take, type: string): Promise<void> {
  const stored: StoredTake = { owner, id: take.id, blob: take.blob, seconds: take.seconds, type };
  try {
    await set(keyOf(owner, take.id), stored, takesStore());
  } catch (error) {
    console.warn("could not keep the take on this device", error);
  }
}

export async function forgetTake(owner: string, id: number): Promise<void> {
  await del(keyOf(owner, id), takesStore()).catch(() => undefined);
}

/** The owner's kept takes, oldest first. */
export async function keptTakes(owner: string): Promise<StoredTake[]> {
  try {
    const all = await entries<string, StoredTake>(takesStore());
    return all.map(([, take]) => take).filter((take) => take.owner === owner).sort((a, b) => a.id - b.id);
  } catch {
    return [];
  }
}

/** Forgets every take of the owner in one transaction: all of them or, if the tab dies first, none. */
export async function forgetAllTakes(owner: string): Promise<void> {
  const keys = (await keptTakes(owner)).map((take) => keyOf(owner, take.id));
  await delMany(keys, takesStore()).catch(() => undefined);
}
