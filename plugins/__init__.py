"""Shipped plugins; configs name them by file name (e.g. on_message msg_log)."""
