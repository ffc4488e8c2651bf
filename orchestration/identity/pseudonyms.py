"""Pseudonyms of identifiers: HMAC-SHA256 with a secret key from the environment.

A pseudonym is ``HMAC-SHA256(key, "<domain>:<normalised, validated identifier>")``: the domain tag keeps an
NHS number's pseudonym from ever equalling a UPN's. A plain or salted hash would not do: there are only
ten billion NHS numbers, and every one can be hashed in an hour.

The key comes from ``WHOLECHILD_PSEUDONYM_KEY``, at least 32 characters. Without it a run stops, unless it
is the synthetic demo (``WHOLECHILD_DEMO=1``, which ``wholechild run --demo``, ``make demo`` and the tests
set): then a throwaway key is made for the process, and a warning says so. Nothing else falls back to a
key nobody holds. The key never reaches a database: DuckDB computes the HMAC from
two derived 64-byte pads held in session variables, which live only in memory for the connection.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import duckdb

KEY_ENV = "WHOLECHILD_PSEUDONYM_KEY"
DEMO_ENV = "WHOLECHILD_DEMO"
MIN_KEY_LENGTH = 32


def demo_mode() -> bool:
    """The synthetic demo, said explicitly: the only case where a missing key is not an error."""
    return os.environ.get(DEMO_ENV, "").strip().lower() in ("1", "true", "yes")


_BLOCK = 64  # SHA-256 block size


class PseudonymKeyError(RuntimeError):
    """The configured key is unusable."""


@dataclass(frozen=True)
class PseudonymKey:
    secret: bytes
    throwaway: bool

    def __repr__(self) -> str:  # never print the key, even by accident
        return f"PseudonymKey(throwaway={self.throwaway})"

    @property
    def pads(self) -> tuple[bytes, bytes]:
        """The inner and outer HMAC pads (RFC 2104)."""
        key = hashlib.sha256(self.secret).digest() if len(self.secret) > _BLOCK else self.secret
        key = key.ljust(_BLOCK, b"\0")
        return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)

    def pseudonym(self, domain: str, value: str) -> str:
        """The pseudonym of one value, in Python (for a search term; bulk work is in SQL)."""
        return hmac.new(self.secret, f"{domain}:{value}".encode(), hashlib.sha256).hexdigest()


@functools.cache
def pseudonym_key() -> PseudonymKey:
    value = os.environ.get(KEY_ENV, "")
    if not value:
        if not demo_mode():
            raise PseudonymKeyError(
                f"{KEY_ENV} is not set: set a random key of at least {MIN_KEY_LENGTH} characters from your"
                " secrets store (for the synthetic demo only, use --demo)"
            )
        warnings.warn(
            f"{KEY_ENV} is not set: using a throwaway pseudonym key for this demo home. Fine for the synthetic "
            "demo; set a long random key (kept in a secrets store) before using real data.",
            stacklevel=2,
        )
        return PseudonymKey(_demo_secret(), throwaway=True)
    if len(value) < MIN_KEY_LENGTH:
        raise PseudonymKeyError(f"{KEY_ENV} must be at least {MIN_KEY_LENGTH} characters long")
    return PseudonymKey(value.encode(), throwaway=False)


def _demo_secret() -> bytes:
    """A random key made once for a demo home and kept in its warehouse folder (0600), so that the
    processes of one demo (a run, the UI's runs, a later subject access search) pseudonymise alike."""
    from orchestration.settings import Paths

    path = Paths.from_env().warehouse / ".demo-pseudonym-key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".demo-key-")  # 0600
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
        try:
            os.link(temp, path)  # atomic, and never over a key another process made first
        except FileExistsError:
            pass
        finally:
            Path(temp).unlink()
    return bytes.fromhex(path.read_text().strip())


def install_hmac(con: duckdb.DuckDBPyConnection, key: PseudonymKey | None = None) -> None:
    """Make ``hmac_sql`` usable on this connection (session variables: never written to the file)."""
    inner, outer = (key or pseudonym_key()).pads
    con.execute("set variable wc_hmac_inner = ?", [inner])
    con.execute("set variable wc_hmac_outer = ?", [outer])


def hmac_sql(expr: str, domain: str) -> str:
    """SQL for the pseudonym of a text expression (null stays null), after ``install_hmac``."""
    return (
        f"case when ({expr}) is not null then sha256(getvariable('wc_hmac_outer') || "
        f"unhex(sha256(getvariable('wc_hmac_inner') || encode('{domain}:' || ({expr}))))) end"
    )
