"""Storage: the only package that speaks SQL, for SQLite (the default, a file in the state
directory) and PostgreSQL (shared by several application nodes), one code path for both.

``database`` parses the URL, owns the engine and its worker threads and translates driver
errors; ``migrations`` is the schema; ``tables`` the tables as queries see them; one repository
per aggregate (``calls``, ``cases``, ``callbacks``, ``flow_versions``, ``accounts``, ``audit``,
``bulletins``, ``operator_states``); ``store.Store`` holds them all for the composition root.
All SQL is parameterised: caller data is never interpolated.
"""
