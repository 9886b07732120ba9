"""Tools for admins on the command line: flows, cases, prompt audio, Asterisk files."""
