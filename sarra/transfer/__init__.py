"""Transfers: one backend per URL scheme, and the confinement of local paths."""
