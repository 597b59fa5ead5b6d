"""Unguessable ids and edit tokens; only a token's hash is stored, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_id() -> str:
    return secrets.token_urlsafe(16)  # 128 bits


def new_short_id() -> str:
    return secrets.token_urlsafe(12)  # 96 bits, for share links


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str | None, token_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token or ""), token_hash)
