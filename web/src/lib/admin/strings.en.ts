// English strings of the admin console (/admin), loaded with it by ./strings.ts.

const adminEn = {
  admin: {
    title: "Admin", sections: "Admin sections", signIn: "Sign in as an admin.",
    denied: "Only admins can open the admin console.",
    tabs: { instance: "Instance", registration: "Registration", limits: "Limits", screening: "Screening",
      storage: "Storage", health: "Health", audit: "Audit" },
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
  },
};

export default adminEn;
