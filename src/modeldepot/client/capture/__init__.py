"""Capture of lineage on the pushing machine: the code checkout and the environment.

Every function here is best effort: it returns what it could learn and never raises,
so capturing lineage can never fail a push.
"""

from modeldepot.client.capture.code import capture_code
from modeldepot.client.capture.environment import capture_environment

__all__ = ["capture_code", "capture_environment"]
