// English strings of the pages and panels outside the feed route (loaded with them, see pages.ts).
export default {
  share: { native: "Share…", copy: "Copy link", toUser: "Send to someone on Clipfeed", send: "Send", sent: "Sent to @{{handle}}" },
  comments: {
    title: "Comments", count_one: "{{count}} comment", count_other: "{{count}} comments", add: "Add a comment…",
    send: "Post", reply: "Reply", replyTo: "Reply to @{{handle}}", replies_one: "View {{count}} reply",
    replies_other: "View {{count}} replies", like: "Like comment", delete: "Delete", pin: "Pin", unpin: "Unpin",
    pinned: "Pinned", pending: "Pending review", none: "No comments yet.", more: "Load more", top: "Top", new: "Newest",
    followersOnly: "Only followers of the creator can comment.", off: "Comments are turned off.", cancelReply: "Cancel reply", sort: "Sort comments",
  },
  notifications: { readAll: "Mark all read", none: "Nothing yet.", more: "Older notifications",
    preferences: "Notification settings",
    receive: "Notify me about", kinds: { follow: "New followers", like: "Likes", comment: "Comments", reply: "Replies",
      mention: "Mentions", share: "Shares", new_clip: "New clips from people I follow", clip_ready: "My clip is ready",
      clip_rejected: "My clip was not published", clip_failed: "My clip could not be processed" } },
  profile: {
    more: "More options for @{{handle}}", block: "Block @{{handle}}", unblock: "Unblock @{{handle}}",
    report: "Report @{{handle}}", reason: "Reason", send: "Send report", cancel: "Cancel", blocked: "Blocked.",
    unblocked: "Unblocked.", reported: "Thanks, a moderator will look at it.",
    categories: { spam: "Spam", harassment: "Harassment", hate: "Hate", nudity: "Nudity", violence: "Violence",
      self_harm: "Self-harm", misinformation: "Misinformation", copyright: "Copyright", other: "Other" },
    nobody: "Nobody yet.", lists: "Lists", liked: "Liked", saved: "Saved", followers: "Followers", following: "Following", clips: "Clips", noClips: "No clips yet." },
  settings: { title: "Settings", language: "Language", editProfile: "Edit profile", bio: "Bio", save: "Save",
    saved: "Saved.", deleteTitle: "Delete account", delete: "Delete my account", deleteConfirm: "Delete for good",
    deleteWarning: "Your clips, comments, likes and follows are removed. This cannot be undone.",
    deleted: "Your account is deleted." },
};
