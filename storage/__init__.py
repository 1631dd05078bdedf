"""DuckDB storage: connection, ordered migrations and small query functions.

Every function here takes a DuckDB connection, so tests pass a temporary one.
"""
