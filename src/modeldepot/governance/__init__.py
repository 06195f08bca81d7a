"""Governance: protected aliases, policies, promotion requests, checks, and the
lifecycle of versions. Built on the unit of work (registry/unit.py)."""
