"""The exchange's performance harness: ``python -m benchmarks``.

Every figure is measured over real mutual TLS with keep-alive connections, by client
processes separate from the server processes, and printed beside a baseline from the same
run, as a ratio:

- ``publish``, ``batch``, ``read``: single-record publish at concurrency 8, batches of 100,
  reads by id with a purpose (p95 at concurrency 1), this version against the exchange of
  another git revision (``--baseline-rev``, ``benchmarks.revision``), in alternating rounds;
- ``collector``: batches with the server's garbage-collector settings against CPython's;
- ``fill``: the publish rate after filling N records in bulk against the rate before;
- ``scaling``: one server process against two (``exchange serve --processes 2``), on
  SQLite and on PostgreSQL when one is reachable;
- ``audit``, ``feed``, ``search``: the log, the feeds and search, each beside the bare
  database work of the same statements.

``python -m benchmarks --help`` lists the options; ``benchmarks/README.md`` has the method
and today's figures.
"""
