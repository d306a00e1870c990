// The compressed file while the browser is still making it. The encoder appends its bytes here
// (compress.ts) and the upload reads them as they come (upload.svelte.ts hands this object to
// tus-js-client as its file source), so the file goes up while it is being encoded: a read past
// what exists waits for the encoder, and the length is known once the encode has ended, when tus
// sends it (Upload-Length on the last PATCH, the upload having been created with a deferred
// length). Everything stays in memory: after a lost connection tus asks the server where it
// stands (HEAD) and reads the rest from here again.

// A read waits for at least this much (or the end of the encode) before a PATCH goes out. With a
// full 5 MiB chunk instead, an uplink faster than the encoder would sit idle for up to 5 MiB of
// output and still have that much to send after the last frame; smaller reads cost a request
// each, and an encode writes about a mebibyte a second at 1080p.
export const MIN_READ_BYTES = 1024 * 1024;

/** A slice as tus-js-client takes it: a Blob (tus counts its `size`), and whether the file ends there. */
export interface EncodedSlice {
  value: Blob;
  done: boolean;
}

interface Reader {
  start: number;
  end: number;
  resolve: (slice: EncodedSlice) => void;
  reject: (reason: Error) => void;
}

export class EncodedFile {
  readonly name: string;
  readonly type: string;
  /** Settles once: true when the first bytes arrive, false when the encode stops before any. */
  readonly begun: Promise<boolean>;
  #begin!: (begun: boolean) => void;
  #parts: Uint8Array<ArrayBuffer>[] = [];
  #written = 0;
  #length: number | null = null;
  #failure: Error | null = null;
  #readers: Reader[] = [];

  constructor(name: string, type: string) {
    this.name = name;
    this.type = type;
    this.begun = new Promise((resolve) => (this.#begin = resolve));
  }

  /** Bytes encoded so far. */
  get written(): number {
    return this.#written;
  }

  /** The whole file's length, or null while the encoder is still writing. */
  get length(): number | null {
    return this.#length;
  }

  /** tus-js-client's FileSource asks for it; with a deferred length it reads `length` from the last slice. */
  get size(): number {
    return this.#length ?? this.#written;
  }

  /** The encoder's bytes at `position`, which must be the end: only appending is possible once
   *  part of the file may be on its way. */
  write(data: Uint8Array, position: number): void {
    if (this.#length !== null || this.#failure) throw new Error("the encoded file is closed");
    if (position !== this.#written) {
      throw new Error(`the encoder wrote at ${position}, not at the end (${this.#written}): not a streamable format`);
    }
    if (!data.byteLength) return;
    this.#parts.push(data.slice()); // the encoder may reuse its buffer
    this.#written += data.byteLength;
    this.#begin(true);
    this.#wake();
  }

  /** The encode has ended: the length is known, and waiting reads get the rest. */
  finish(): void {
    if (this.#failure) return;
    this.#length = this.#written;
    this.#begin(true);
    this.#wake();
  }

  /** The encode stopped (cancelled, slower than sending the original, or failed): every read,
   *  now or later, fails with `reason`, and the bytes go. Nothing changes once finished. */
  fail(reason: Error): void {
    if (this.#length !== null || this.#failure) return;
    this.#failure = reason;
    this.#begin(false);
    for (const reader of this.#readers.splice(0)) reader.reject(reason);
    this.#parts = [];
  }

  /** The reads waiting now fail (the upload was paused: tus must not send a chunk that a
   *  stopped request asked for); later reads wait as before. */
  interrupt(reason: Error): void {
    for (const reader of this.#readers.splice(0)) reader.reject(reason);
  }

  /** Bytes `start` to `end` (or fewer, at least MIN_READ_BYTES, once that much exists; `end` may
   *  lie past the end of the file), as soon as the encoder has written them. */
  slice(start: number, end: number): Promise<EncodedSlice> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#readers.push({ start, end, resolve, reject });
      this.#wake();
    });
  }

  /** tus is done with the source; the bytes stay for file(). */
  close(): void {}

  /** The finished file (for the editor and the preview). */
  file(): File {
    if (this.#length === null) throw new Error("the encode has not finished");
    return new File(this.#parts, this.name, { type: this.type, lastModified: Date.now() });
  }

  #wake(): void {
    this.#readers = this.#readers.filter((reader) => {
      const slice = this.#ready(reader.start, reader.end);
      if (slice) reader.resolve(slice);
      return !slice;
    });
  }

  #ready(start: number, end: number): EncodedSlice | null {
    const stop = Math.min(end, this.#written);
    const wanted = Math.min(end - start, MIN_READ_BYTES);
    if (this.#length === null && stop - start < wanted) return null;
    return { value: this.#bytes(start, Math.max(start, stop)), done: this.#length !== null && end >= this.#length };
  }

  #bytes(start: number, stop: number): Blob {
    const pieces: Uint8Array<ArrayBuffer>[] = [];
    let at = 0;
    for (const part of this.#parts) {
      const next = at + part.byteLength;
      if (next > start && at < stop) pieces.push(part.subarray(Math.max(0, start - at), Math.min(part.byteLength, stop - at)));
      if (next >= stop) break;
      at = next;
    }
    return new Blob(pieces);
  }
}
