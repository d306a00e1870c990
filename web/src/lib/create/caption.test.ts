import { describe, expect, it } from "vitest";

import { complete, hashtagsOf, typingAt } from "./caption";

describe("the word being typed in a caption", () => {
  it("finds a hashtag or a mention at the caret", () => {
    expect(typingAt("Sunset #bea", 11)).toEqual({ sigil: "#", word: "bea", start: 7, end: 11 });
    expect(typingAt("with @ma", 8)).toEqual({ sigil: "@", word: "ma", start: 5, end: 8 });
    expect(typingAt("#", 1)).toEqual({ sigil: "#", word: "", start: 0, end: 1 });
  });

  it("ignores a sigil inside a word, an e-mail address or text without a sigil", () => {
    expect(typingAt("me@host", 7)).toBeNull();
    expect(typingAt("a#b", 3)).toBeNull();
    expect(typingAt("plain words", 11)).toBeNull();
    expect(typingAt("#done and more", 14)).toBeNull();
  });

  it("puts the completion in place of the typed word and the caret after it", () => {
    const typing = typingAt("Sunset #bea at the sea", 11)!;
    expect(complete("Sunset #bea at the sea", typing, "beach")).toEqual({ caption: "Sunset #beach at the sea", caret: 14 });
    const end = typingAt("hi @ma", 6)!;
    expect(complete("hi @ma", end, "maker")).toEqual({ caption: "hi @maker ", caret: 10 });
  });

  it("lists each hashtag once, lower case", () => {
    expect(hashtagsOf("#Beach day at the #beach, #sun_set! mail@x #")).toEqual(["beach", "sun_set"]);
  });
});
