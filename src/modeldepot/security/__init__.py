"""Who may do what: principals, roles and permissions, credentials, the request context."""
