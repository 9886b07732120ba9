"""Editing the configuration while the hotline runs: check an edit, write it, apply it."""
