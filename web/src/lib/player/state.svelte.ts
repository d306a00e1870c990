// What every clip on screen shares: sound stays on once the viewer turned it on (browsers only
// autoplay muted video, so the feed starts muted and the first tap unmutes).
export const player = $state({ sound: false });
