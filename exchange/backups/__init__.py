"""Backups of an instance: a consistent copy of its database and keys, and their restore."""
