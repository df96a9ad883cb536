"""Statistics for periodic publication."""
