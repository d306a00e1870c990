"""The instance's own settings (name, registration, limits, screening) as admins override
them in the database over the environment's values, invite codes, and the admin console's
routes (settings, invites, audit, storage report, service health)."""
