"""Notifications: the inbox, its fan-out worker and live delivery (docs/design/notifications.md)."""
