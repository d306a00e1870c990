// The admin console's strings join the app's dictionaries when /admin first loads (importing
// this module waits for them); no other route carries them.
import { addStrings } from "../i18n/index.svelte";
import en from "./strings.en";

await addStrings({ en: async () => en, fr: async () => (await import("./strings.fr")).default });
