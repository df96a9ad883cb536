"""Stored certificates and signing keys, the CRL, and the exchange's own keys."""
