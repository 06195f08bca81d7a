"""Metadata storage: tables, engine and migrations."""
