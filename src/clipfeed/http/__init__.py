"""HTTP plumbing shared by every feature's router: errors, middleware, metrics, dependencies."""
