"""Routers under ``/api/v1``; each endpoint parses, calls one service, serialises."""
