"""The Python SDK: ``Client`` plus the transfer machinery it uses."""
