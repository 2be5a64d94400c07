"""Packets to connections: link/IP/TCP decoding and TCP reassembly with provenance.

This package must not import `capture`, `tls`, `certs`, `eventlog` or `analysis`.
"""
