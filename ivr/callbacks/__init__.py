"""Callbacks that keep the caller's place in line."""
