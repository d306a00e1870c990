"""Resumable uploads: the tus 1.0 server, partial storage, the hand-off to media processing,
and the upload CLI."""
