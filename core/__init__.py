"""Qurate's domain: every step of the flow as plain functions (no UI code here)."""
