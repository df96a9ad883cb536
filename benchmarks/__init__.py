"""The exchange's performance harness: ``python -m benchmarks``.

Every figure is measured over real mutual TLS with keep-alive connections, by client
processes separate from the server processes, and printed beside a baseline from the same
run, as a ratio:

- ``publish``: single-record publish at concurrency 8, the exchange against the bare
  endpoints (``benchmarks.bare``: the same cheroot server and TLS adapter doing only body,
  JSON, RFC 8785, Ed25519 verification, one record and one audit insert, commit). Two of
  them: "bare", that work on the exchange's stack (plain Flask, SQLAlchemy Core on an
  engine configured as the exchange's), against which ratios and targets are taken, and
  "floor", the same work as a raw WSGI callable on raw sqlite3/psycopg, shown beside it;
- ``batch``: 100 records per request, records per second, against both bare batches;
- ``read``: read by id with a purpose, p50/p95, against a bare select plus audit insert;
- ``fill``: the publish rate after a bulk SQL fill of N records against the rate before;
- ``scaling``: one server process against two (``exchange serve --processes 2``), on
  SQLite and on PostgreSQL when one is reachable.

Options: ``--database-url`` (PostgreSQL, in a fresh schema), ``--quick``, ``--only NAME``,
``--records-filled N``, ``--profile DIR``; ``python -m benchmarks --help`` lists them all.
"""
