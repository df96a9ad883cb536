"""Retention: records past ``handling.retention_until`` disposed of, unless under a legal hold."""
