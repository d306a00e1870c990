import { describe, expect, it } from "vitest";

import { removeEntries, restoreEntries } from "./queue";

const clip = (id: string, owner = "maker") => ({ id, owner });
const ids = (entries: { id: string }[]) => entries.map((e) => e.id).join(",");

describe("removing clips from the queue", () => {
  const queue = [clip("a"), clip("b", "other"), clip("c"), clip("d", "other"), clip("e")];

  it("moves the viewer onto the clip that slid into the place of the one they dismissed", () => {
    const { entries, index } = removeEntries(queue, 2, (e) => e.id === "c");
    expect(ids(entries)).toBe("a,b,d,e");
    expect(entries[index].id).toBe("d");
  });

  it("keeps the viewer on the same clip when clips before it go", () => {
    const { entries, index } = removeEntries(queue, 2, (e) => e.owner === "other");
    expect(ids(entries)).toBe("a,c,e");
    expect(entries[index].id).toBe("c");
  });

  it("steps back when the last clip goes, and stays at 0 when none is left", () => {
    expect(removeEntries(queue, 4, (e) => e.id === "e").index).toBe(3);
    expect(removeEntries(queue, 4, () => true)).toMatchObject({ entries: [], index: 0 });
  });

  it("puts every clip back where it was, and the viewer too, after more clips came", () => {
    const { entries, removal } = removeEntries(queue, 3, (e) => e.owner === "other");
    const grown = [...entries, clip("f")];
    const back = restoreEntries(grown, removal, (e) => e.id);
    expect(ids(back.entries)).toBe("a,b,c,d,e,f");
    expect(back.entries[back.index].id).toBe("d");
  });

  it("does not put a clip back twice", () => {
    const { entries, removal } = removeEntries(queue, 0, (e) => e.id === "b");
    const once = restoreEntries(entries, removal, (e) => e.id);
    expect(ids(restoreEntries(once.entries, removal, (e) => e.id).entries)).toBe("a,b,c,d,e");
  });
});
