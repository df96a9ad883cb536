"""The verifiable audit log: RFC 9162 Merkle trees and C2SP checkpoints.

A library without Flask or a database, so an auditor can use it alone.
"""
