// The sign-up screen's strings about how this instance takes new accounts, loaded with the
// sign-in dialog (not in the feed route).
import { addStrings } from "../i18n/index.svelte";

const en = { signup: {
  closed: "Sign-up is closed on {{name}}. Ask its admins if you need an account.",
  inviteOnly: "{{name}} is invite-only: enter the code an admin gave you.",
  invite: "Invite code",
} };
const fr = { signup: {
  closed: "Les inscriptions sont fermées sur {{name}}. Demandez un compte à ses administrateurs.",
  inviteOnly: "{{name}} est sur invitation : saisissez le code qu'un administrateur vous a donné.",
  invite: "Code d'invitation",
} };

await addStrings({ en: async () => en, fr: async () => fr });
