// English strings of search, hashtag pages, Discover and mute filters (not on the feed route).
export default {
  search: {
    title: "Search", box: "Search clips, creators and hashtags", submit: "Search", clear: "Clear the search box",
    suggestions: "Suggestions", recent: "Recent searches", clearRecent: "Clear all", forget: "Remove {{text}} from recent searches",
    results: "Results", none: "Nothing found for “{{q}}”.", more: "Load more", loading: "Searching…",
    discover: "Discover what's trending",
    types: { all: "Top", clips: "Clips", creators: "Creators", hashtags: "Hashtags" },
    clips_one: "{{count}} clip", clips_other: "{{count}} clips",
    kinds: { handle: "Creator", hashtag: "Hashtag", query: "Search" },
    remote: {
      title: "Account on another server", from: "From {{server}}", looking: "Looking up {{account}}…",
      signIn: "Sign in to find accounts on other servers.",
      notFound: "No account {{account}} was found. Check the address; its server may also be down or not answering.",
      unusable: "{{server}} answered, but not with an account that can be followed from here.",
      refused: "This server does not connect to {{server}}.", retry: "Try again",
      blockServer: "Block server {{server}}", unblockServer: "Unblock server {{server}}",
      blockServerAsk: "Block everyone on {{server}}?",
      blockServerExplain: "You will not see their clips, comments or notifications, and they will not see yours. Follows between you and them end, and nobody there can follow you.",
      blockServerConfirm: "Block server", cancel: "Cancel",
      serverBlocked: "You block {{server}}: nobody there sees you, and you see nothing of theirs.",
      manage: "Blocked servers, in Settings", blocked: "{{server}} is blocked.", unblocked: "{{server}} is unblocked.",
    },
  },
  hashtag: {
    views_one: "{{formatted}} view", views_other: "{{formatted}} views",
    following: "Following", followLabel: "Follow", top: "Top", newest: "Newest", related: "Related hashtags",
    missing: "No clips with #{{tag}} yet.", tabs: "Clips of the hashtag",
  },
  discover: {
    title: "Discover", trending: "Trending hashtags", creators: "Trending creators", newCreators: "New creators",
    empty: "Nothing to discover yet. Come back once a few clips are up.",
  },
  filters: {
    title: "Muted words and hashtags", explain: "Clips and comments with these words or hashtags stay out of your feeds, search and hashtag pages.",
    kind: "Kind", word: "Word or phrase", hashtag: "Hashtag", value: "Word, phrase or #hashtag to mute", add: "Mute",
    remove: "Unmute {{value}}", none: "Nothing muted.", signIn: "Sign in to mute words and hashtags.",
  },
  mutedComment: { label: "Filtered: matches one of your muted words", show: "Show" },
};
