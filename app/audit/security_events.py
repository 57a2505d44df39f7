"""Which audit actions are *security events*: they go to the JSON log as well as the
audit trail (without any password, code or secret: see ``trail.record``).

The actions themselves, with their labels, are in ``app/vocabulary.py`` (``AuditAction``);
"""

from __future__ import annotations

from app.vocabulary import AuditAction, SignInOutcome

SECURITY_EVENTS = frozenset(
    {
        AuditAction.SIGN_IN,
        AuditAction.SIGN_IN_FAILED,
        AuditAction.SIGN_OUT,
        AuditAction.PURGE,
        AuditAction.EXPORT,
        AuditAction.FHIR_EXPORT,
        AuditAction.ACCOUNT_CREATED,
        AuditAction.PASSWORD_SET,
        AuditAction.ACCOUNT_DEACTIVATED,
        AuditAction.EMERGENCY_ACCOUNT_CREATED,
        AuditAction.ACCESS_DENIED,
        AuditAction.SECOND_FACTOR_FAILED,
        AuditAction.SECOND_FACTOR_ENROLLED,
        AuditAction.RECOVERY_CODE_USED,
        AuditAction.SIGN_IN_THROTTLED,
        AuditAction.SIGN_IN_STORM,
        AuditAction.SESSION_EXPIRED,
        AuditAction.PROOF_CONFIRMED,
        AuditAction.PASSWORD_CHANGED,
        AuditAction.ACCOUNT_LINK_ISSUED,
        AuditAction.ACCOUNT_LINK_USED,
        AuditAction.ROLE_CHANGED,
        AuditAction.ACCOUNT_REACTIVATED,
        AuditAction.SECOND_FACTOR_RESET,
        AuditAction.SESSIONS_ENDED,
        AuditAction.PASSKEY_ADDED,
        AuditAction.PASSKEY_REMOVED,
        AuditAction.PASSKEY_USED,
        AuditAction.PASSKEY_FAILED,
        AuditAction.SECOND_FACTOR_WAIT,
        AuditAction.SECOND_FACTOR_SET_UP_BEGUN,
    }
)

# The sign-in outcomes the metrics count (app/common/metrics.py), read off the entries the
# sign-in pages already write, so a sign-in page needs no line of its own for them. An
# unknown account counts as a wrong password (the person is told the same), a refused
# passkey as a wrong code (both are the second factor).
SIGN_IN_OUTCOMES = {
    AuditAction.SIGN_IN: SignInOutcome.SUCCESS,
    AuditAction.SIGN_IN_FAILED: SignInOutcome.WRONG_PASSWORD,
    AuditAction.SECOND_FACTOR_FAILED: SignInOutcome.WRONG_CODE,
    AuditAction.PASSKEY_FAILED: SignInOutcome.WRONG_CODE,
    AuditAction.SIGN_IN_THROTTLED: SignInOutcome.THROTTLED,
}
