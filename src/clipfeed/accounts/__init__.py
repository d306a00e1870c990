"""Accounts: registration, sign-in with opaque bearer tokens, profiles, deletion."""
