"""Which audit actions are *security events*: they go to the JSON log as well as the
audit trail (without any password, code or secret: see ``trail.record``).

The actions themselves, with their labels, are in ``app/vocabulary.py`` (``AuditAction``);
"""

from __future__ import annotations

from app.vocabulary import AuditAction

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
