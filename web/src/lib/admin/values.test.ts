import { describe, expect, it } from "vitest";

import { bytes, changed, fromField, money, pending, policyFromFields, policyToFields, roleState, toField } from "./values";

describe("setting fields", () => {
  it("shows bytes as MiB and reads them back as bytes", () => {
    expect(toField("bytes", 1024 * 1024 * 1024)).toBe("1024");
    expect(toField("bytes", 1.5 * 1024 * 1024)).toBe("1.5");
    expect(fromField("bytes", "2")).toEqual({ value: 2 * 1024 * 1024 });
    expect(fromField("bytes", "0,5")).toEqual({ value: 512 * 1024 });
  });

  it("refuses a limit that is not a positive number", () => {
    for (const text of ["", "  ", "abc", "-3", "0", "Infinity"]) {
      expect(fromField("seconds", text)).toEqual({ error: "admin.field.notNumber" });
    }
    expect(fromField("seconds", "45")).toEqual({ value: 45 });
  });

  it("passes text through and sees a change only when the field differs", () => {
    expect(fromField("text", " Rollfilm ")).toEqual({ value: " Rollfilm " });
    expect(changed("seconds", 600, "600")).toBe(false);
    expect(changed("seconds", 600, "60")).toBe(true);
  });
});

describe("the screening table", () => {
  it("round-trips and refuses a hold threshold above the reject one", () => {
    const fields = policyToFields({ nsfw: [0.45, 0.85], duplicate: [0.8, 2] });
    expect(fields.nsfw).toEqual({ hold: "0.45", reject: "0.85" });
    expect(policyFromFields(fields)).toEqual({ value: { nsfw: [0.45, 0.85], duplicate: [0.8, 2] } });
    expect(policyFromFields({ nsfw: { hold: "0.9", reject: "0.5" } })).toEqual({ error: "admin.screening.holdAboveReject" });
    expect(policyFromFields({ nsfw: { hold: "", reject: "0.5" } })).toEqual({ error: "admin.field.notNumber" });
  });
});

describe("the bill and the health report", () => {
  it("formats sizes in binary units and small amounts with more digits", () => {
    expect(bytes(512, "en")).toBe("512 B");
    expect(bytes(3 * 1024 * 1024 + 100_000, "en")).toBe("3.1 MiB");
    expect(money(0.0123, "en")).toBe("$0.0123");
    expect(money(12.5, "en")).toBe("$12.50");
  });

  it("calls a role stopped when a group never started on a topic with records", () => {
    const consumer = { group: "media", topic: "media.uploaded", started: true, pending: 0, partitions_behind: 0 };
    expect(roleState({ name: "media", in_this_process: false, consumers: [consumer] })).toBe("idle");
    const behind = { name: "media", in_this_process: false, consumers: [{ ...consumer, pending: 4 }] };
    expect(roleState(behind)).toBe("behind");
    expect(pending(behind)).toBe(4);
    expect(roleState({ name: "media", in_this_process: false, consumers: [{ ...consumer, started: false, pending: 2 }] }))
      .toBe("stopped");
    expect(roleState({ name: "batch", in_this_process: false, consumers: [] })).toBe("idle");
  });
});
