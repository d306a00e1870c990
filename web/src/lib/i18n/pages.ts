// The strings of the pages and panels outside the feed route (profile, notifications, settings,
// comments, share) join the app's dictionaries when one of them first loads: the feed route
// does not carry them. Importing this module waits for them.
import { addStrings } from "./index.svelte";
import en from "./pages.en";

await addStrings({ en: async () => en, fr: async () => (await import("./pages.fr")).default });
