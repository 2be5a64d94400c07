"""TLS: records, handshake messages and sessions, fed bytes per direction (sans-I/O).

This package must not import `capture`, `net`, `certs`, `eventlog` or `analysis`.
"""
