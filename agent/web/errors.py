"""Typed errors of the web API; :mod:`agent.web.app` maps each to its HTTP status.

=====================================  ======  ==========================================
error                                  status  when
=====================================  ======  ==========================================
:class:`AuthError`                     401     no token, an unknown or a revoked token
:class:`ForbiddenError`                403     the role or the shop grants do not allow it
:class:`NotFoundError`                 404     no such decision or run
:class:`agent.answers.DecisionConflictError`  409  answered first by someone, expired or
                                               superseded (``status`` says which)
:class:`agent.errors.ApprovalError`    422     the answer does not fit the decision
=====================================  ======  ==========================================

Messages never contain a token.
"""

from __future__ import annotations

from envs.errors import ShopOpsError

__all__ = ["AuthError", "ForbiddenError", "NotFoundError"]


class AuthError(ShopOpsError, PermissionError):
    """The request carries no valid API token (HTTP 401)."""


class ForbiddenError(ShopOpsError, PermissionError):
    """The user is known but may not do this here (HTTP 403)."""


class NotFoundError(ShopOpsError, LookupError):
    """A decision or run the store does not know (HTTP 404)."""
