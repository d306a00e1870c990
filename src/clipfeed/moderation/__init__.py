"""Moderation: the human review queue, reports, decisions with an audit log, text rules."""
