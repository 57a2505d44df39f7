"""Throttling wrong passwords without handing anyone a way to lock staff out.

No account is ever locked by wrong passwords. Instead the *address* that sends wrong
passwords (or wrong second-factor codes) slows down: after a few failures for one account
from one address, that address may not try that account again for a while, and after
more failures from one address for any accounts, it may not try at all. The owner, with
the right password and second factor from another address, always gets in. Addresses are
counted by ``address_group``: an IPv6 client by its /64. The center's own outgoing
addresses (``center_networks``), shared by a whole office, may fail more often before
they wait (``per_center_address``). Wrong *codes* are also limited per account, whatever
the address: that is in the database (sign_ins.py), since only someone who has the
password reaches the code step.

The counters live in the rate limiter's storage (Redis in production, so every worker and
host counts together; memory in development). If that storage cannot be reached the
counters fall back to this process's memory rather than refusing everyone.

Failures against one account from all addresses are counted too: above a threshold that
is a *storm*, recorded once per window in the audit trail for admins to see.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

from app.common.addresses import address_group, in_networks

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ThrottlePolicy:
    # Failures for one account from one address before that address must wait.
    per_account_and_address: int = 5
    # Failures from one address, whatever the accounts, before it must wait.
    per_address: int = 20
    # Failures against one account from all addresses that make a storm worth an alert.
    storm: int = 20
    minutes: int = 15
    # The center's own egress (many people behind one address): its per-address limit.
    per_center_address: int = 200
    center_networks: tuple = ()


@dataclass(frozen=True)
class Failure:
    # True the first time in a window that the account's failures reach the storm level.
    storm_started: bool
    # True when this failure used up what the address may try.
    now_throttled: bool


class SignInThrottle:
    def __init__(self, *, storage_uri: str, prefix: str, policy: ThrottlePolicy, options=None):
        self.policy = policy
        self.prefix = prefix
        self._fallback = FixedWindowRateLimiter(MemoryStorage())
        try:
            storage: Storage = storage_from_string(storage_uri, **(options or {}))
        except Exception:  # a bad or unsupported URI: count in memory, say so once
            log.warning("Sign-in throttle storage unusable; counting in process memory")
            storage = MemoryStorage()
        self._limiter = FixedWindowRateLimiter(storage)
        minutes = policy.minutes
        self._account_address = RateLimitItemPerMinute(
            policy.per_account_and_address, minutes, namespace="signin-aa"
        )
        self._address = RateLimitItemPerMinute(policy.per_address, minutes, namespace="signin-a")
        self._center_address = RateLimitItemPerMinute(
            policy.per_center_address, minutes, namespace="signin-a"
        )
        self._account = RateLimitItemPerMinute(policy.storm, minutes, namespace="signin-acct")
        # One storm alert per account per window.
        self._storm_notice = RateLimitItemPerMinute(1, minutes, namespace="signin-storm")
        # One audit entry per address per minute for staff pages opened without signing
        # in (scanners); every one of them still goes to the log.
        self._anonymous_visit = RateLimitItemPerMinute(1, 1, namespace="staff-anon")

    def _address_item(self, address: str | None):
        if in_networks(address, self.policy.center_networks):
            return self._center_address
        return self._address

    def refused(self, *, email: str, address: str | None) -> bool:
        """May this address try this account now? (Reads only; counts nothing.)"""
        account, addr = _key(email), address_group(address)
        return not (
            self._call("test", self._address_item(address), self.prefix, addr)
            and self._call("test", self._account_address, self.prefix, account, addr)
        )

    def record_failure(self, *, email: str, address: str | None) -> Failure:
        account, addr = _key(email), address_group(address)
        per_address = self._address_item(address)
        under_address = self._call("hit", per_address, self.prefix, addr)
        under_pair = self._call("hit", self._account_address, self.prefix, account, addr)
        under_storm = self._call("hit", self._account, self.prefix, account)
        storm_started = not under_storm and self._call(
            "hit", self._storm_notice, self.prefix, account
        )
        now_throttled = not (
            under_address
            and under_pair
            and self._call("test", per_address, self.prefix, addr)
            and self._call("test", self._account_address, self.prefix, account, addr)
        )
        return Failure(storm_started=storm_started, now_throttled=now_throttled)

    def first_anonymous_visit(self, *, address: str | None) -> bool:
        """True for the first staff page opened without signing in from this address (its
        /64 for IPv6) in the current minute: that one goes in the audit trail."""
        return self._call("hit", self._anonymous_visit, self.prefix, address_group(address))

    def _call(self, method: str, item, *identifiers: str) -> bool:
        try:
            return getattr(self._limiter, method)(item, *identifiers)
        except Exception:  # storage unreachable: never refuse everyone because of it
            log.warning("Sign-in throttle storage unreachable; counting in process memory")
            return getattr(self._fallback, method)(item, *identifiers)


def _key(email: str) -> str:
    # Staff addresses are not secret, but a hash keeps keys short and free of odd characters.
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
