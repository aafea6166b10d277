"""The sans-I/O core: wire protocol, round state machine and metrics.

Imports only the standard library, msgspec and ``gambiarra.errors``.
"""
