"""(being written): TokenMiddleware."""
