
export default {
  app: { name: "Clipfeed", skipToFeed: "Skip to the feed" },
  tabs: { label: "Feeds", foryou: "For You", following: "Following", hashtags: "Tags" },
  feed: {
    label: "Clips", empty: "No clips yet: new ones show up here as soon as they are ready.", emptyFollowing: "Follow creators to see their clips here.",
    loading: "Loading clips…", error: "The feed could not load.", retry: "Retry", clipOf: "Clip by @{{handle}}",
    progress: "Playback position", pause: "Pause", play: "Play", unmute: "Turn sound on", mute: "Turn sound off",
    tapForSound: "Tap for sound", next: "Next clip", previous: "Previous clip",
    emptyHashtags: "Follow hashtags to see their newest clips here.",
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
  nav: { create: "New clip", main: "Main", home: "Home", notifications: "Notifications", notificationsUnread: "Notifications, {{count}} unread",
    profile: "Profile", settings: "Settings", search: "Search" },
  errors: {
    generic: "Something went wrong ({{status}}).", offline: "You are offline. We will retry when the network is back.",
    rateLimited_one: "Too many requests: try again in {{count}} second.",
    rateLimited_other: "Too many requests: try again in {{count}} seconds.",
    notFound: "This page does not exist.",
  },
  network: { offline: "No connection. Clips will resume when you are back online." },
};
