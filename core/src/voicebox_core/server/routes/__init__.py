"""HTTP routes, one module per area; each handler calls a service."""
