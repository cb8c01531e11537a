"""The broker layer: the only code that imports pika."""
