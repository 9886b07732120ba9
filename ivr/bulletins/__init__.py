"""Emergency bulletins posted by supervisors and played to callers."""
