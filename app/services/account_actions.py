"""Audit actions of staff account security (issue 13), in one spot so that they can be
folded into the shared vocabulary. Each is a plain string stored in ``audit_events.action``.

The actions of signing in and out (``sign_in``, ``sign_in_failed``, ``sign_out``) stay in
``audit.Action``; every action here and those three are *security events*, which also go
to the JSON log (without any password, code or secret: see ``audit.record``).
"""

from __future__ import annotations

import enum


class AccountAction(enum.StrEnum):
    SECOND_FACTOR_FAILED = "second_factor_failed"
    SECOND_FACTOR_ENROLLED = "second_factor_enrolled"
    RECOVERY_CODE_USED = "recovery_code_used"
    SIGN_IN_THROTTLED = "sign_in_throttled"
    SIGN_IN_STORM = "sign_in_storm"
    SESSION_EXPIRED = "session_expired"
    PROOF_CONFIRMED = "proof_confirmed"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 (an action name)
    ACCOUNT_CREATED = "account_created"
    ACCOUNT_LINK_ISSUED = "account_link_issued"
    ACCOUNT_LINK_USED = "account_link_used"
    ROLE_CHANGED = "role_changed"
    ACCOUNT_DEACTIVATED = "account_deactivated"
    ACCOUNT_REACTIVATED = "account_reactivated"
    SECOND_FACTOR_RESET = "second_factor_reset"
    SESSIONS_ENDED = "sessions_ended"
    PASSKEY_ADDED = "passkey_added"
    PASSKEY_REMOVED = "passkey_removed"
    PASSKEY_USED = "passkey_used"
    PASSKEY_FAILED = "passkey_failed"


ACCOUNT_ACTION_LABELS = {
    AccountAction.SECOND_FACTOR_FAILED: "Second factor failed",
    AccountAction.SECOND_FACTOR_ENROLLED: "Set up an authenticator app",
    AccountAction.RECOVERY_CODE_USED: "Used a recovery code",
    AccountAction.SIGN_IN_THROTTLED: "Sign-in refused: too many failures from one address",
    AccountAction.SIGN_IN_STORM: "Many failed sign-ins against one account",
    AccountAction.SESSION_EXPIRED: "Session reached its time limit",
    AccountAction.PROOF_CONFIRMED: "Confirmed identity again",
    AccountAction.PASSWORD_CHANGED: "Changed password",
    AccountAction.ACCOUNT_CREATED: "Created an account",
    AccountAction.ACCOUNT_LINK_ISSUED: "Issued a set-up link",
    AccountAction.ACCOUNT_LINK_USED: "Used a set-up link",
    AccountAction.ROLE_CHANGED: "Changed a role",
    AccountAction.ACCOUNT_DEACTIVATED: "Deactivated an account",
    AccountAction.ACCOUNT_REACTIVATED: "Reactivated an account",
    AccountAction.SECOND_FACTOR_RESET: "Reset a second factor",
    AccountAction.SESSIONS_ENDED: "Ended an account's sessions",
    AccountAction.PASSKEY_ADDED: "Added a passkey",
    AccountAction.PASSKEY_REMOVED: "Removed a passkey",
    AccountAction.PASSKEY_USED: "Signed in with a passkey",
    AccountAction.PASSKEY_FAILED: "Passkey refused",
}

# Actions that go to the JSON log as well as the audit trail.
SECURITY_EVENTS = frozenset(
    {"sign_in", "sign_in_failed", "sign_out", "purge_patient_data", "export"}
    | {a.value for a in AccountAction}
)
