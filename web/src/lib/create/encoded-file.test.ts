// The encoded file on its own, then the real tus-js-client reading it as ClipUpload has it do:
// what it sends and when. The server there is a small stand-in speaking tus 1.0 (creation,
// defer-length, HEAD); the real server's side of the same flow is in
// tests/uploads/test_tus_protocol.py, and the browser against it in tests/js/create_journeys.mjs.
import { type HttpRequest, type HttpResponse, type HttpStack, Upload } from "tus-js-client";
import { describe, expect, it, vi } from "vitest";

import { EncodedFile, MIN_READ_BYTES } from "./encoded-file";

const MiB = 1024 * 1024;

/** `length` bytes counting up from `from` (mod 251), so that any misplaced byte shows. */
function bytes(length: number, from = 0): Uint8Array {
  const made = new Uint8Array(length);
  for (let index = 0; index < length; index++) made[index] = (from + index) % 251;
  return made;
}

/** Where two byte strings first differ (-1: nowhere; vitest's deep equality is slow on megabytes). */
function difference(actual: Uint8Array, expected: Uint8Array): number {
  const shorter = Math.min(actual.length, expected.length);
  for (let index = 0; index < shorter; index++) if (actual[index] !== expected[index]) return index;
  return actual.length === expected.length ? -1 : shorter;
}

async function read(blob: Blob): Promise<Uint8Array> {
  return new Uint8Array(await blob.arrayBuffer());
}

/** Whether a promise has settled once everything queued before it has run. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => (done = true), () => (done = true));
  await new Promise((resolve) => setTimeout(resolve, 0));
  return done;
}

describe("the encoded file", () => {
  it("answers a read once the encoder has written enough, with those bytes", async () => {
    const encoded = new EncodedFile("clip.mp4", "video/mp4");
    const slice = encoded.slice(0, 5 * MiB);
    encoded.write(bytes(MiB / 2), 0);
    expect(await settled(slice)).toBe(false); // half a mebibyte is not worth a request
    encoded.write(bytes(MiB, MiB / 2), MiB / 2);
    const { value, done } = await slice;
    expect(done).toBe(false);
    expect(value.size).toBe(1.5 * MiB); // what exists, not the whole chunk asked for
    expect(difference(await read(value), bytes(1.5 * MiB))).toBe(-1);
  });

  it("gives a later read the bytes from its own start, across the encoder's writes", async () => {
    const encoded = new EncodedFile("clip.mp4", "video/mp4");
    for (let at = 0; at < 3 * MiB; at += 300_000) encoded.write(bytes(300_000, at), at);
    const { value } = await encoded.slice(MiB + 7, 2 * MiB + 7);
    expect(difference(await read(value), bytes(MiB, MiB + 7))).toBe(-1);
  });

  it("knows its length when the encode ends, and the last read says so", async () => {
    const encoded = new EncodedFile("clip.mp4", "video/mp4");
    encoded.write(bytes(MIN_READ_BYTES + 10), 0);
    const first = await encoded.slice(0, 5 * MiB);
    expect(first.done).toBe(false);
    const last = encoded.slice(first.value.size, first.value.size + 5 * MiB);
    encoded.write(bytes(1000, MIN_READ_BYTES + 10), MIN_READ_BYTES + 10);
    expect(encoded.length).toBeNull();
    encoded.finish();
    expect(encoded.length).toBe(MIN_READ_BYTES + 1010);
    const { value, done } = await last; // short of the minimum, but there is no more to wait for
    expect(done).toBe(true);
    expect(difference(await read(value), bytes(1000, MIN_READ_BYTES + 10))).toBe(-1);
    expect(difference(await read(encoded.file()), bytes(MIN_READ_BYTES + 1010))).toBe(-1);
    expect(encoded.file().name).toBe("clip.mp4");
  });

  it("answers a read past the end with nothing, and done", async () => {
    const encoded = new EncodedFile("clip.mp4", "video/mp4");
    encoded.write(bytes(2000), 0);
    encoded.finish();
    const after = await encoded.slice(2000, 2000 + 5 * MiB);
    expect([after.value.size, after.done]).toEqual([0, true]);
    const exact = await encoded.slice(1000, 2000); // ends where the file ends
    expect([exact.value.size, exact.done]).toEqual([1000, true]);
    const inside = await encoded.slice(0, 1000);
    expect(inside.done).toBe(false);
  });

  it("fails every read, waiting or later, when the encode stops", async () => {
    const encoded = new EncodedFile("clip.mp4", "video/mp4");
    encoded.write(bytes(10), 0);
    const waiting = encoded.slice(0, 5 * MiB);
    encoded.fail(new Error("sending the original"));
    await expect(waiting).rejects.toThrow("sending the original");
    await expect(encoded.slice(0, 10)).rejects.toThrow("sending the original");
    expect(() => encoded.write(bytes(10), 10)).toThrow();
    expect(encoded.length).toBeNull();
  });

  it("fails only the reads waiting when the upload pauses", async () => {
    const encoded = new EncodedFile("clip.mp4", "video/mp4");
    const waiting = encoded.slice(0, 5 * MiB);
    encoded.interrupt(new Error("paused"));
    await expect(waiting).rejects.toThrow("paused");
    const again = encoded.slice(0, 5 * MiB);
    encoded.write(bytes(MiB), 0);
    expect((await again).value.size).toBe(MiB);
  });

  it("tells when the first bytes arrive, or that none will", async () => {
    const written = new EncodedFile("a.mp4", "video/mp4");
    expect(await settled(written.begun)).toBe(false);
    written.write(bytes(1), 0);
    expect(await written.begun).toBe(true);
    const stopped = new EncodedFile("b.mp4", "video/mp4");
    stopped.fail(new Error("too slow"));
    expect(await stopped.begun).toBe(false);
  });

  it("refuses a write that is not at the end (a format that goes back cannot stream)", () => {
    const encoded = new EncodedFile("clip.mp4", "video/mp4");
    encoded.write(bytes(100), 0);
    expect(() => encoded.write(bytes(8), 0)).toThrow(/not at the end/);
    expect(encoded.written).toBe(100);
  });

  it("keeps its own copy of what the encoder wrote", async () => {
    const encoded = new EncodedFile("clip.mp4", "video/mp4");
    const buffer = bytes(100);
    encoded.write(buffer, 0);
    buffer.fill(0); // the encoder reuses its buffer
    encoded.finish();
    expect(difference(await read(encoded.file()), bytes(100))).toBe(-1);
  });
});

interface Seen {
  method: string;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** One tus upload's server: the bytes it took and every request, in order. */
class TusServer implements HttpStack {
  seen: Seen[] = [];
  chunks: Uint8Array[] = [];
  offset = 0;
  length: number | null = null;

  createRequest(method: string, url: string): HttpRequest {
    const headers: Record<string, string> = {};
    const server = this;
    return {
      getMethod: () => method,
      getURL: () => url,
      setHeader: (name, value) => void (headers[name] = value),
      getHeader: (name) => headers[name],
      setProgressHandler: () => undefined,
      abort: async () => undefined,
      getUnderlyingObject: () => null,
      // Like an XHR, one aborted before it was sent still goes when sent (abort stops only a
      // request in flight): what EncodedFile.interrupt guards against.
      async send(body: Blob | null): Promise<HttpResponse> {
        const bytes = body ? new Uint8Array(await body.arrayBuffer()) : new Uint8Array();
        server.seen.push({ method, headers: { ...headers }, body: bytes });
        return server.#answer(method, headers, bytes);
      },
    };
  }

  getName(): string {
    return "test";
  }

  get patches(): Seen[] {
    return this.seen.filter((request) => request.method === "PATCH");
  }

  received(): Uint8Array {
    const all = new Uint8Array(this.offset);
    this.chunks.reduce((at, chunk) => (all.set(chunk, at), at + chunk.length), 0);
    return all;
  }

  #answer(method: string, headers: Record<string, string>, body: Uint8Array): HttpResponse {
    const reply = (status: number, extra: Record<string, string> = {}): HttpResponse => {
      const all: Record<string, string> = { "Upload-Offset": String(this.offset), ...extra };
      return { getStatus: () => status, getHeader: (name) => all[name], getBody: () => "", getUnderlyingObject: () => null };
    };
    if (method === "POST") return reply(201, { Location: "http://clipfeed.test/v1/uploads/1" });
    if (method === "HEAD") return reply(200, this.length === null ? { "Upload-Defer-Length": "1" } : { "Upload-Length": String(this.length) });
    if (Number(headers["Upload-Offset"]) !== this.offset) return reply(409);
    if (headers["Upload-Length"]) this.length = Number(headers["Upload-Length"]);
    this.chunks.push(body);
    this.offset += body.length;
    return reply(204);
  }
}

function upload(encoded: EncodedFile, server: TusServer, onSuccess: () => void): Upload {
  return new Upload(encoded as unknown as File, {
    endpoint: "http://clipfeed.test/v1/uploads/", chunkSize: 5 * MiB, retryDelays: null,
    uploadLengthDeferred: true, fileReader: { openFile: async () => encoded }, httpStack: server,
    storeFingerprintForResuming: false, headers: { "Upload-Concat": "partial" }, onSuccess,
    onError: (error) => {
      throw error;
    },
  });
}

describe("tus-js-client sending an encoded file", () => {
  it("sends the bytes as they are written, and the length with the last of them", async () => {
    const encoded = new EncodedFile("clip.mp4", "video/mp4");
    const server = new TusServer();
    const success = vi.fn();
    upload(encoded, server, success).start();
    encoded.write(bytes(1.5 * MiB), 0);
    await vi.waitFor(() => expect(server.patches).toHaveLength(1)); // before the encode has ended
    encoded.write(bytes(MiB / 4, 1.5 * MiB), 1.5 * MiB); // too little for a request of its own
    encoded.write(bytes(MiB / 4, 1.75 * MiB), 1.75 * MiB);
    encoded.finish();
    await vi.waitFor(() => expect(success).toHaveBeenCalledOnce());
    const [create] = server.seen;
    expect([create.method, create.headers["Upload-Defer-Length"], create.headers["Upload-Concat"]]).toEqual(["POST", "1", "partial"]);
    expect(server.patches.map((patch) => [patch.headers["Upload-Offset"], patch.body.length, patch.headers["Upload-Length"]]))
      .toEqual([["0", 1.5 * MiB, undefined], [String(1.5 * MiB), MiB / 2, String(2 * MiB)]]);
    expect(difference(server.received(), bytes(2 * MiB))).toBe(-1);
  });

  it("ends with an empty PATCH carrying the length when every byte went before the encode ended", async () => {
    const encoded = new EncodedFile("clip.mp4", "video/mp4");
    const server = new TusServer();
    const success = vi.fn();
    upload(encoded, server, success).start();
    encoded.write(bytes(MiB), 0);
    await vi.waitFor(() => expect(server.offset).toBe(MiB));
    encoded.finish();
    await vi.waitFor(() => expect(success).toHaveBeenCalledOnce());
    expect(server.patches.at(-1)!.body.length).toBe(0);
    expect(server.length).toBe(MiB);
  });

  it("sends nothing while paused and resumes from the server's offset", async () => {
    const encoded = new EncodedFile("clip.mp4", "video/mp4");
    const server = new TusServer();
    const success = vi.fn();
    const tus = upload(encoded, server, success);
    tus.start();
    encoded.write(bytes(MiB), 0);
    await vi.waitFor(() => expect(server.offset).toBe(MiB));
    // Paused while tus waits for the next bytes (ClipUpload.pause): the request it opened for
    // them must not go out later.
    await tus.abort(false);
    encoded.interrupt(new Error("paused"));
    encoded.write(bytes(2 * MiB, MiB), MiB);
    encoded.finish();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(server.patches).toHaveLength(1);
    tus.start();
    await vi.waitFor(() => expect(success).toHaveBeenCalledOnce());
    expect(server.seen.map((request) => request.method)).toEqual(["POST", "PATCH", "HEAD", "PATCH"]);
    expect(difference(server.received(), bytes(3 * MiB))).toBe(-1);
  });
});
