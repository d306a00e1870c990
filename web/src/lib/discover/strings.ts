// The strings of search, hashtag pages, Discover and mute filters join the app's dictionaries
// when one of those first loads (importing this module waits for them).
import { addStrings } from "../i18n/index.svelte";
import en from "./strings.en";

await addStrings({ en: async () => en, fr: async () => (await import("./strings.fr")).default });
