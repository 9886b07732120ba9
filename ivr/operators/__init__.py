"""Operators: their desk (login, pause), what app_queue does with them, screen pops, transfers."""
