"""API users, tokens and shop grants: issuing, listing, revoking, and checking a request.

A token is ``sot_`` followed by 43 URL-safe random characters (256 bits). It is shown once,
when made (:func:`create_token`); the store keeps only its SHA-256 (a fast hash is enough
for a random secret of this length: there is nothing to guess) and its first 8 characters
(the *prefix*, to tell tokens apart in ``shopops tokens list``). A request presents it as
``Authorization: Bearer <token>``; :func:`authenticate` looks the hash up and returns the
:class:`Principal`, or raises :class:`~agent.web.errors.AuthError`.

Roles (``api_users.role``): ``viewer`` reads; ``approver`` also answers decisions;
``admin`` answers in every shop. Viewers and approvers see and answer only the shops they
are granted (``api_grants``; the grant ``*`` is every shop).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable
from typing import Any

from agent.errors import AgentConfigError
from agent.web.errors import AuthError, ForbiddenError

__all__ = [
    "TOKEN_PREFIX",
    "Principal",
    "authenticate",
    "create_token",
    "hash_token",
    "list_tokens",
    "revoke_token",
]

TOKEN_PREFIX = "sot_"
_SHOWN = 8  # characters of a token kept in clear (the prefix)
_TOUCH_EVERY = dt.timedelta(minutes=1)  # last_used_at is refreshed at most this often


def hash_token(token: str) -> str:
    """The SHA-256 hex digest stored for ``token``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclasses.dataclass(frozen=True)
class Principal:
    """Who is calling: the user's name (recorded with decisions), role and shops.

    Attributes:
        user_id: ``api_users.id``.
        name: the user's name.
        role: ``viewer`` | ``approver`` | ``admin``.
        shops: the granted shop ids; ``None`` means every shop.
        token_id: the token used.
    """

    user_id: int
    name: str
    role: str
    shops: frozenset[str] | None
    token_id: int

    def can_see(self, shop_id: str) -> bool:
        """True when the user may read ``shop_id``'s runs and decisions."""
        return self.role == "admin" or self.shops is None or shop_id in self.shops

    def can_answer(self, shop_id: str) -> bool:
        """True when the user may approve, edit or reject decisions of ``shop_id``."""
        return self.role == "admin" or (self.role == "approver" and self.can_see(shop_id))

    def require_see(self, shop_id: str) -> None:
        """Raise :class:`ForbiddenError` unless the user may read ``shop_id``."""
        if not self.can_see(shop_id):
            raise ForbiddenError(f"user {self.name} has no grant for shop {shop_id!r}")

    def require_answer(self, shop_id: str) -> None:
        """Raise :class:`ForbiddenError` unless the user may answer in ``shop_id``."""
        if self.role not in ("approver", "admin"):
            raise ForbiddenError(
                f"user {self.name} is a {self.role}; only approvers and admins may answer decisions"
            )
        if not self.can_answer(shop_id):
            raise ForbiddenError(
                f"user {self.name} may not answer decisions of shop {shop_id!r} (no grant)"
            )


def authenticate(store: Any, token: str | None) -> Principal:
    """The principal presenting ``token``.

    Raises:
        AuthError: no token, or an unknown or revoked one (the message never echoes it).
    """
    from sqlalchemy import select

    from agent.store.auth import ApiGrant, ApiToken, ApiUser
    from agent.store.models import utcnow

    if not token:
        raise AuthError("missing API token: send 'Authorization: Bearer <token>'")
    with store.session() as s:
        row = s.execute(
            select(ApiToken, ApiUser)
            .join(ApiUser, ApiUser.id == ApiToken.user_id)
            .where(ApiToken.token_hash == hash_token(token))
        ).first()
        if row is None:
            raise AuthError("invalid API token")
        tok, user = row
        if tok.revoked_at is not None:
            raise AuthError(f"API token {tok.prefix}... was revoked at {tok.revoked_at:%Y-%m-%d}")
        now = utcnow()
        if tok.last_used_at is None or now - tok.last_used_at > _TOUCH_EVERY:
            tok.last_used_at = now
        grants = set(s.scalars(select(ApiGrant.shop_id).where(ApiGrant.user_id == user.id)))
        return Principal(
            user_id=user.id,
            name=user.name,
            role=user.role,
            shops=None if "*" in grants else frozenset(grants),
            token_id=tok.id,
        )


def create_token(
    store: Any,
    user: str,
    role: str | None = None,
    shops: Iterable[str] = (),
    label: str = "",
) -> tuple[str, dict[str, Any]]:
    """Make a token for ``user`` (created with ``role`` if new); returns (token, its info).

    ``role`` changes an existing user's role when given; ``shops`` are added to the user's
    grants (``*``: every shop). The token itself is returned once and never stored.

    Raises:
        AgentConfigError: an unknown role, a new user without a role, or an empty name.
    """
    from sqlalchemy import select

    from agent.store.auth import ROLES, ApiGrant, ApiToken, ApiUser

    name = user.strip()
    if not name:
        raise AgentConfigError("--user: a user name is required")
    if role is not None and role not in ROLES:
        raise AgentConfigError(f"--role: unknown {role!r}; use one of {', '.join(ROLES)}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with store.session() as s:
        u = s.scalar(select(ApiUser).where(ApiUser.name == name))
        if u is None:
            if role is None:
                raise AgentConfigError(f"user {name!r} is new: give a --role ({', '.join(ROLES)})")
            u = ApiUser(name=name, role=role)
            s.add(u)
            s.flush()
        elif role is not None:
            u.role = role
        have = set(s.scalars(select(ApiGrant.shop_id).where(ApiGrant.user_id == u.id)))
        for shop in dict.fromkeys(x.strip() for x in shops if x.strip()):
            if shop not in have:
                s.add(ApiGrant(user_id=u.id, shop_id=shop))
        tok = ApiToken(
            user_id=u.id, token_hash=hash_token(token), prefix=token[:_SHOWN], label=label
        )
        s.add(tok)
        s.flush()
        grants = sorted(have | {x.strip() for x in shops if x.strip()})
        info = {
            "id": tok.id,
            "prefix": tok.prefix,
            "user": u.name,
            "role": u.role,
            "shops": grants,
            "label": label,
        }
    return token, info


def list_tokens(store: Any) -> list[dict[str, Any]]:
    """Every token's id, prefix, user, role, shops, label, times and state (no secrets)."""
    from sqlalchemy import select

    from agent.store.auth import ApiGrant, ApiToken, ApiUser

    with store.session() as s:
        grants: dict[int, list[str]] = {}
        for uid, shop in s.execute(select(ApiGrant.user_id, ApiGrant.shop_id)):
            grants.setdefault(uid, []).append(shop)
        rows = s.execute(
            select(ApiToken, ApiUser)
            .join(ApiUser, ApiUser.id == ApiToken.user_id)
            .order_by(ApiToken.id)
        ).all()
        return [
            {
                "id": t.id,
                "prefix": t.prefix,
                "user": u.name,
                "role": u.role,
                "shops": sorted(grants.get(u.id, [])),
                "label": t.label,
                "created_at": t.created_at.isoformat(timespec="seconds"),
                "last_used_at": t.last_used_at.isoformat(timespec="seconds")
                if t.last_used_at
                else None,
                "revoked": t.revoked_at is not None,
            }
            for t, u in rows
        ]


def revoke_token(store: Any, ref: str) -> dict[str, Any]:
    """Revoke the token with id or prefix ``ref``; returns its info.

    Raises:
        AgentConfigError: no token matches, or a prefix matches several.
    """
    from sqlalchemy import or_, select

    from agent.store.auth import ApiToken
    from agent.store.models import utcnow

    ref = ref.strip()
    with store.session() as s:
        cond = [ApiToken.prefix == ref]
        if ref.isdigit():
            cond.append(ApiToken.id == int(ref))
        rows = s.scalars(select(ApiToken).where(or_(*cond))).all()
        if not rows:
            raise AgentConfigError(f"no token with id or prefix {ref!r}; see `shopops tokens list`")
        if len(rows) > 1:
            raise AgentConfigError(
                f"{ref!r} matches tokens {', '.join(str(r.id) for r in rows)}; revoke by id"
            )
        tok = rows[0]
        if tok.revoked_at is None:
            tok.revoked_at = utcnow()
        return {"id": tok.id, "prefix": tok.prefix, "revoked_at": tok.revoked_at.isoformat()}
