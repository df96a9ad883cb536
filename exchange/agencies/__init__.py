"""Agencies, their systems, and the sharing policy between them."""
