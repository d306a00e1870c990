// English strings of the admin console (/admin), loaded with it by ./strings.ts.

const adminEn = {
  admin: {
    title: "Admin", sections: "Admin sections", signIn: "Sign in as an admin.",
    denied: "Only admins can open the admin console.",
    tabs: { instance: "Instance", registration: "Registration", limits: "Limits", screening: "Screening",
      storage: "Storage", health: "Health", audit: "Audit", federation: "Federation" },
    loading: "Loading…",
    names: {
      instance_name: "Instance name", instance_description: "Description", registration_mode: "Who can sign up",
      upload_max_bytes: "Largest upload (MiB)", upload_max_duration_s: "Longest clip (seconds)",
      screening_policy: "Screening thresholds",
    },
    modes: { open: "Anyone", closed: "Nobody (closed)", invite: "People with an invite code" },
    field: {
      environment: "Environment ({{variable}}): {{value}}", overridden: "Overridden here",
      notOverridden: "Environment value", save: "Save", saveOf: "Save {{name}}", reset: "Reset",
      resetOf: "Reset {{name}} to the environment value", saved: "{{name}} saved.", wasReset: "{{name}} reset.",
      notNumber: "Enter a positive number.", by: "Changed by @{{handle}} on {{when}}",
    },
    screening: {
      check: "Check", hold: "Hold at", reject: "Reject at",
      holdOf: "Hold threshold of {{check}}", rejectOf: "Reject threshold of {{check}}",
      holdAboveReject: "A hold threshold cannot be above its reject threshold.",
      help: "Scores run from 0 to 1; a threshold of 2 never triggers.",
      checks: { nsfw: "Nudity", blocklist: "Blocklist match", text: "Caption and hashtags", duplicate: "Copy of another creator's clip" },
    },
    invites: {
      title: "Invite codes", note: "Who is it for? (optional)", create: "Create a code", created: "Code {{code}} created.",
      empty: "No invite codes yet.", revoke: "Revoke", revokeOf: "Revoke code {{code}}", revoked: "Code revoked.",
      states: { unused: "Unused", used: "Used by @{{handle}}", revoked: "Revoked" },
      copy: "Copy", copyOf: "Copy code {{code}}", copied: "Copied.",
      onlyWhenInvite: "Codes are asked for only while sign-up is set to invite codes.",
    },
    storage: {
      tier: "Tier", objects: "Objects", bytes: "Size", price: "Price per GB-month", monthly: "Per month",
      total: "Total per month: {{amount}}", allHot: "All in the hot tier it would be {{amount}}; the tiers save {{saved}}.",
      tiers: { hot: "Hot", warm: "Warm", cold: "Cold", replica: "Replica" }, refresh: "Refresh",
    },
    health: {
      ready: "All dependencies answer.", notReady: "A dependency does not answer.",
      dependencies: "Dependencies", roles: "Worker roles", ok: "OK", failing: "Failing: {{error}}",
      ms: "{{ms}} ms", inProcess: "runs in the API process", elsewhere: "runs in its own processes",
      states: { idle: "Idle", behind: "Working through a backlog", stopped: "Not running" },
      pending_one: "{{count}} record waiting", pending_other: "{{count}} records waiting",
      group: "Group", topic: "Topic", waiting: "Waiting", behind: "Partitions behind",
      checked: "Checked {{when}}; refreshes every 10 seconds.", neverStarted: "never started",
    },
    log: {
      empty: "No changes yet.", when: "When", who: "Who", what: "What", change: "Change", more: "Load more",
      actions: { set: "changed", reset: "reset", invite_created: "created invite", invite_revoked: "revoked invite" },
      fromTo: "{{old}} → {{new}}",
    },
    federation: {
      intro: "Servers this one has met, and those you set a policy for. A policy decides what this server accepts from them and sends them.",
      servers: "Remote servers", server: "Server", policy: "Policy", lastSuccess: "Last success", failures: "Failures in a row",
      state: "Deliveries", dead: "Stopped: unreachable", alive: "Running", never: "Never",
      summary: "Last success: {{when}} · Failures in a row: {{failures}} · Deliveries: {{state}}", helpTitle: "What each policy does",
      empty: "No remote servers yet. They appear once people here follow accounts of other servers, or when you add a policy below.",
      policies: { none: "No policy", allow: "Allow", silence: "Silence", reject_media: "Reject media", suspend: "Suspend" },
      explain: {
        none: "Federate as usual (when only allowed servers federate, this one does not).",
        allow: "When only allowed servers federate: federate with this one.",
        silence: "Its clips stay out of For You and search; follows and replies still arrive.",
        reject_media: "Federate, but never fetch or keep its media.",
        suspend: "Refuse all it sends, deliver nothing to it, and remove what is stored from it.",
      },
      policyOf: "Policy of {{server}}", save: "Save", saveOf: "Save the policy of {{server}}",
      saved: "{{server}} set to {{policy}}.",
      add: {
        title: "Add a server", server: "Server name", hint: "A host name, with :port when it is not the default, e.g. video.example",
        policy: "Policy for the new server", submit: "Add",
        invalid: "“{{text}}” is not a server name: letters, digits, dots and hyphens, then :port if needed.",
      },
      confirm: {
        title_one: "Suspend {{server}}?", title_other: "Suspend {{count}} servers?",
        text: "Nothing they send will be accepted, nothing will be delivered to them, and what is stored from them here is removed. Lifting the suspension does not bring it back.",
        yes: "Suspend", cancel: "Cancel",
      },
      bulk: {
        title: "Import a list", help: "One server per line. Lines starting with # are skipped; of a CSV line only the first field is read.",
        list: "Servers, one per line", policy: "Policy for every server of the list", submit: "Apply to all",
        progress: "Applying…", progressOf: "{{done}} of {{total}} applied",
        done_one: "{{count}} server set to {{policy}}.", done_other: "{{count}} servers set to {{policy}}.",
        refused_one: "{{count}} line was not applied:", refused_other: "{{count}} lines were not applied:",
        line: "Line {{line}}: {{text}}", notServer: "“{{text}}” is not a server name", failed: "{{server}}: {{problem}}", nothing: "The list names no server.",
        tooMany: "At most {{count}} servers at once: split the list.",
      },
    },
  },
};

export default adminEn;
