// The strings of the creator studio and the moderation console join the app's dictionaries when
// one of their screens first loads (importing this module waits for them); the feed route does
// not carry them.
import { addStrings } from "../i18n/index.svelte";
import en from "./strings.en";

await addStrings({ en: async () => en, fr: async () => (await import("./strings.fr")).default });
