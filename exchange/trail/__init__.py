"""The stored audit log: one entry per request, in the request's own transaction."""
