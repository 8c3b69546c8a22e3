"""Business logic of the server: routes stay a few lines that call these."""
