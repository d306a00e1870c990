export default {
  app: { name: "Clipfeed", skipToFeed: "Skip to the feed" },
  tabs: { label: "Feeds", foryou: "For You", following: "Following" },
  feed: {
    label: "Clips", empty: "No clips yet. Come back soon.", emptyFollowing: "Follow creators to see their clips here.",
    loading: "Loading clips…", error: "The feed could not load.", retry: "Retry", clipOf: "Clip by @{{handle}}",
    progress: "Playback position", pause: "Pause", play: "Play", unmute: "Turn sound on", mute: "Turn sound off",
    tapForSound: "Tap for sound", next: "Next clip", previous: "Previous clip",
  },
  actions: {
    like: "Like", unlike: "Remove like", comments: "Comments", share: "Share", bookmark: "Save", unbookmark: "Remove from saved",
    follow: "Follow", unfollow: "Following", followHandle: "Follow @{{handle}}", unfollowHandle: "Unfollow @{{handle}}",
    linkCopied: "Link copied", profileOf: "Profile of @{{handle}}",
  },
  auth: {
    signIn: "Sign in", register: "Create account", signOut: "Sign out", login: "Handle or e-mail", password: "Password",
    handle: "Handle", email: "E-mail", displayName: "Name (optional)", needAccount: "New here? Create an account",
    haveAccount: "Have an account? Sign in", why: "Sign in to like, comment and follow.", close: "Close",
  },
  comments: {
    title: "Comments", count_one: "{{count}} comment", count_other: "{{count}} comments", add: "Add a comment…",
    send: "Post", reply: "Reply", replyTo: "Reply to @{{handle}}", replies_one: "View {{count}} reply",
    replies_other: "View {{count}} replies", like: "Like comment", delete: "Delete", pin: "Pin", unpin: "Unpin",
    pinned: "Pinned", pending: "Pending review", none: "No comments yet.", more: "Load more", top: "Top", new: "Newest",
    off: "Comments are turned off.", cancelReply: "Cancel reply", sort: "Sort comments",
  },
  nav: { main: "Main", home: "Home", notifications: "Notifications", notificationsUnread: "Notifications, {{count}} unread",
    profile: "Profile", settings: "Settings" },
  notifications: { readAll: "Mark all read", none: "Nothing yet." },
  profile: { followers: "Followers", following: "Following", clips: "Clips", noClips: "No clips yet." },
  settings: { title: "Settings", language: "Language" },
  errors: {
    generic: "Something went wrong ({{status}}).", offline: "You are offline. We will retry when the network is back.",
    rateLimited_one: "Too many requests: try again in {{count}} second.",
    rateLimited_other: "Too many requests: try again in {{count}} seconds.",
    notFound: "This page does not exist.",
  },
  network: { offline: "No connection. Clips will resume when you are back online." },
};
