"""The web app: the built-in board, health, metrics."""
