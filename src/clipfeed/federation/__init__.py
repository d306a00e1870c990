"""ActivityPub federation: discovery, actors and objects, signed inboxes and deliveries
(docs/design/federation.md)."""
