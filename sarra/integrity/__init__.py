"""Checksum methods and partitioned-file arithmetic. Pure."""
