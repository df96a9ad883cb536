"""Signed records: publish, amend, withdraw, read, search."""
