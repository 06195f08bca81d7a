"""Errors of governance: protected aliases, promotion requests, policies, checks,
version status. Imported by ``modeldepot.errors``, which re-exports them."""

from __future__ import annotations

from modeldepot.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
)

__all__ = [
    "AliasProtected",
    "AlreadyReviewed",
    "CheckDigestMismatch",
    "ExpressionTooComplex",
    "FreezeNotFound",
    "MetricExists",
    "NotAReviewer",
    "PolicyInvalid",
    "PolicyNotFound",
    "ProtectionNotFound",
    "RequestBaseMoved",
    "RequestClosed",
    "RequestNotFound",
    "RequestNotReady",
    "SelfApproval",
    "VersionRevoked",
]


class AliasProtected(Forbidden):
    """A protected alias moves only by applying a promotion request."""

    code = "ALIAS_PROTECTED"
    title = "The alias is protected: open a promotion request"


class SelfApproval(Forbidden):
    code = "SELF_APPROVAL"
    title = "The requester and the version's author may not approve"


class NotAReviewer(Forbidden):
    code = "NOT_A_REVIEWER"
    title = "The request needs no approval from any group of yours"


class RequestNotFound(NotFound):
    code = "REQUEST_NOT_FOUND"
    title = "Promotion request not found"


class PolicyNotFound(NotFound):
    code = "POLICY_NOT_FOUND"
    title = "Policy not found"


class ProtectionNotFound(NotFound):
    code = "PROTECTION_NOT_FOUND"
    title = "Protection rule not found"


class FreezeNotFound(NotFound):
    code = "FREEZE_NOT_FOUND"
    title = "Freeze not found"


class RequestClosed(Conflict):
    code = "REQUEST_CLOSED"
    title = "The promotion request is closed"


class RequestNotReady(Conflict):
    code = "REQUEST_NOT_READY"
    title = "The promotion request does not meet its policy yet"


class RequestBaseMoved(Conflict):
    code = "REQUEST_BASE_MOVED"
    title = "The alias moved since the request was opened"


class AlreadyReviewed(Conflict):
    code = "ALREADY_REVIEWED"
    title = "You already reviewed this revision of the request"


class VersionRevoked(Conflict):
    code = "VERSION_REVOKED"
    title = "The version is revoked"


class MetricExists(Conflict):
    code = "METRIC_EXISTS"
    title = "The version already records that metric"


class CheckDigestMismatch(Conflict):
    code = "CHECK_DIGEST_MISMATCH"
    title = "The check names other content than the version's"


class PolicyInvalid(InvalidInput):
    """A policy document or one of its expressions is invalid; ``line`` and ``column``
    locate an expression error within the expression, ``field`` names where it is."""

    code = "POLICY_INVALID"
    title = "Invalid policy"


class ExpressionTooComplex(PolicyInvalid):
    code = "EXPRESSION_TOO_COMPLEX"
    title = "The expression exceeds the evaluation bounds"
