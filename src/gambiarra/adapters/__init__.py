"""Adapters: the I/O implementations of the ports. Imported by name from containers."""
