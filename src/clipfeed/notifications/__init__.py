"""Notifications: the inbox, its fan-out worker and live delivery (README "Notifications")."""
