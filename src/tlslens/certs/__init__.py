"""Certificates: DER to a summary, and (later) chain checks at the capture's time.

The `cryptography` package is used only inside this package.
This package must not import `capture`, `net`, `tls`, `eventlog` or `analysis`.
"""
