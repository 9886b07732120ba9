"""The pure core: wire formats, the flow engine, routing, figures, cases and configuration
values. No asyncio, no clock, no sockets, no files: the shell passes data and ``now`` in
(``tests/unit/test_architecture.py`` keeps it that way)."""
