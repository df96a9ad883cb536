"""Notices to the government of a sending country about its brokers (measures 146–147)."""
