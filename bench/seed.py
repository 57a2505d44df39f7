"""Seeds a benchmark database with a queue that has grown for years.

100,000 requests (by default) spread over three years with more in recent months; the
older a request, the likelier it has been scheduled or closed. About one in thirty is a
second request for a patient already in the table (same name, date of birth and phone),
so the detail page has duplicates to find. Every request that intake has touched has its
history (claim, status changes, notes) and audit events. Rows go in with COPY: a few
seconds for the lot, where the web form would take an hour.

All names, numbers and addresses are made up.
"""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import psycopg

from app.requests.business_clock import BusinessClock

# The event kinds and audit actions the staff side records (app/requests/request_work.py,
# app/audit/trail.py).
EVENT_CLAIM, EVENT_STATUS, EVENT_NOTE = "claim", "status", "note"
AUDIT_VIEW, AUDIT_CLAIM, AUDIT_STATUS = "view_request", "claim", "status_change"

REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
STAFF_PASSWORD = "bench-password-not-secret"  # noqa: S105  (a throwaway database)
# Every bench account's authenticator app (the staff second factor), set up already.
STAFF_TOTP_SECRET = "BENCHBENCHBENCHBENCHBENCHBENCH22"  # noqa: S105
STAFF_COUNT = 12
# The default settings' clock: the stored reply-due times the app would have computed.
CLOCK = BusinessClock()

FIRST_NAMES = (
    "Maria Linda Patricia Barbara Susan Jennifer Elizabeth Mary Karen Nancy Lisa Sandra "
    "Donna Carol Sharon Michelle Laura Deborah Kimberly Angela Rebecca Cynthia Amy Anna "
    "Kathleen Teresa Ana Rosa Carmen Lucia Guadalupe Yolanda Josefina Mercedes Beatriz "
    "Aisha Keisha Latoya Ebony Tamika Shanice Imani Nia Zoe Mei Lin Hui Yuki Priya Anjali "
    "Fatima Leila Nadia Olga Irina Svetlana Ingrid Astrid Siobhan Aoife Chloe Amelie "
    "Renée Zoë José Thanh Ngoc Hoa Jamal Robert James John Michael David"
).split()
LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
    "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
    "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott "
    "Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell "
    "Carter Roberts Santos-Ortiz O'Neil O'Brien McAllister Dubois Müller Søndergaard "
    "Castillo Morales Reyes Cruz Ortiz Gutierrez Chavez Ramos Ruiz Alvarez Mendoza "
    "Patel Shah Singh Kumar Chen Wang Li Zhang Liu Kim Park Choi Tanaka Suzuki Okafor "
    "Adeyemi Mensah Haddad Khoury Cohen Levi Novak Kowalski Ivanova Petrova Rossi Russo"
).split()
RELATIONSHIPS = ["daughter", "son", "husband", "wife", "sister", "friend", "partner", "niece"]
AREA_CODES = ["813", "727", "941", "352", "863", "407", "305", "904", "239", "850"]
STATES = ["FL"] * 14 + ["GA", "AL", "SC", "NC", "TN", "TX", "NY", "PR"]
CARRIERS = ["Florida Blue", "Aetna", "Cigna", "UnitedHealthcare", "Humana", "AvMed"]
SITES = ["lungs", "liver", "bones", "brain", "other"]
CLOSE_REASONS = (
    ["declined"] * 25
    + ["unable_to_reach"] * 35
    + ["not_eligible"] * 15
    + ["duplicate"] * 15
    + ["other"] * 10
)
NOTES = [
    "Left a voicemail; will try again tomorrow morning.",
    "Spoke with the patient; records requested from the referring office.",
    "Insurance verified; waiting for pathology reports.",
    "Caregiver prefers afternoon calls.",
    "Scheduled with medical oncology; reminder sent.",
]

# (maximum age in days, [(status, weight), ...]): older requests have moved on.
STATUS_BY_AGE = [
    (3, [("new", 70), ("in_progress", 25), ("contacted", 5)]),
    (
        14,
        [("new", 15), ("in_progress", 30), ("contacted", 30), ("scheduled", 15), ("closed", 10)],
    ),
    (60, [("new", 2), ("in_progress", 8), ("contacted", 20), ("scheduled", 45), ("closed", 25)]),
    (
        10_000,
        [("new", 2), ("in_progress", 5), ("contacted", 20), ("scheduled", 600), ("closed", 373)],
    ),
]

REQUEST_COLUMNS = (
    "id reference submission_token status submitted_at submitted_by_patient submitter_name "
    "submitter_relationship submitter_phone first_name last_name date_of_birth sex email phone "
    "contact_method best_time_to_call state zip_code language language_other "
    "interpreter_needed diagnosed_metastatic metastasis_sites in_treatment insurance_type "
    "insurance_carrier has_referral message consent_to_contact claimed_by_id claimed_at "
    "closed_reason closed_at reply_due_at received_on callback_at appointment_on "
    "first_contact_at contact_business_minutes"
).split()
REFERRAL_COLUMNS = "request_id physician_name physician_phone practice fax email npi".split()
EVENT_COLUMNS = (
    "request_id staff_id kind from_status to_status close_reason note created_at".split()
)
AUDIT_COLUMNS = "occurred_at staff_id action request_id from_value to_value client_ip".split()


@dataclass(frozen=True)
class SeedSummary:
    requests: int
    open_requests: int
    referrals: int
    events: int
    audit_events: int
    staff: int
    by_status: dict[str, int]
    sample_last_name: str
    sample_reference: str
    sample_detail_reference: str


def psycopg_url(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)


def _weighted(rng: random.Random, pairs: list[tuple[str, int]]) -> str:
    values, weights = zip(*pairs, strict=True)
    return rng.choices(values, weights=weights)[0]


def _phone(rng: random.Random) -> str:
    return f"+1{rng.choice(AREA_CODES)}555{rng.randrange(100, 200):04d}"


def _reference(rng: random.Random, taken: set[str]) -> str:
    while True:
        ref = "".join(rng.choice(REFERENCE_ALPHABET) for _ in range(12))
        if ref not in taken:
            taken.add(ref)
            return ref


def _age_days(rng: random.Random) -> float:
    # Volume grows over three years: the density of submissions rises linearly towards
    # today, so a sqrt draw puts more requests in recent months.
    return 1095 * (1 - rng.random() ** 0.5)


def generate(count: int, *, now: datetime, staff_ids: list[int], seed: int = 6):
    """Yields (request row, referral row or None, [event rows], [audit rows])."""
    rng = random.Random(seed)
    taken: set[str] = set()
    people: list[tuple[str, str, date, str, str]] = []
    ages = sorted((_age_days(rng) for _ in range(count)), reverse=True)
    for index, age in enumerate(ages, start=1):
        submitted_at = now - timedelta(days=age, seconds=rng.randrange(0, 3600))
        if people and rng.random() < 0.033:
            first, last, dob, phone, email = rng.choice(people[-2000:])
        else:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            years = min(max(rng.gauss(58, 12), 26), 92)
            dob = (submitted_at - timedelta(days=int(years * 365.25))).date()
            phone = _phone(rng)
            domain = rng.choice(["example.com", "example.org", "example.net"])
            local = "".join(c for c in f"{first}.{last}".lower() if c in string.ascii_lowercase)
            email = f"{local}{rng.randrange(1, 999)}@{domain}"
            people.append((first, last, dob, phone, email))
        status = next(_weighted(rng, weights) for limit, weights in STATUS_BY_AGE if age < limit)
        by_patient = rng.random() < 0.75
        language = _weighted(rng, [("english", 85), ("spanish", 12), ("other", 3)])
        diagnosed = _weighted(rng, [("yes", 70), ("not_sure", 20), ("no", 10)])
        sites = sorted(rng.sample(SITES, rng.randint(1, 3))) if diagnosed == "yes" else []
        if diagnosed == "not_sure":
            sites = ["not_sure"]
        insurance = _weighted(
            rng,
            [("commercial", 45), ("medicare", 35), ("medicaid", 10), ("other", 5), ("none", 5)],
        )
        has_referral = rng.random() < 0.4
        staff = rng.choice(staff_ids)
        touched = status != "new"
        claimed_at = submitted_at + timedelta(hours=rng.uniform(1, 40)) if touched else None
        closed_at = claimed_at + timedelta(days=rng.uniform(1, 10)) if status == "closed" else None
        close_reason = rng.choice(CLOSE_REASONS) if status == "closed" else None
        # Only open work keeps an owner; finished requests keep who had them in history.
        owner = staff if status in ("in_progress", "contacted") else None
        # The working day's columns (issue 16), from the app's own clock.
        contact_at = minutes = None
        if status in ("contacted", "scheduled") or (status == "closed" and rng.random() < 0.7):
            contact_at = claimed_at + timedelta(hours=rng.uniform(0.2, 30))
            minutes = int(
                CLOCK.business_time_between(submitted_at, contact_at).total_seconds() // 60
            )
        callback_at = (
            now + timedelta(hours=rng.uniform(-30, 120))
            if status == "contacted" and rng.random() < 0.6
            else None
        )
        appointment_on = (
            (submitted_at + timedelta(days=rng.uniform(7, 40))).date()
            if status == "scheduled"
            else None
        )
        row = (
            index,
            _reference(rng, taken),
            f"seed-{index:08d}-{rng.getrandbits(64):016x}",
            status,
            submitted_at,
            by_patient,
            None if by_patient else f"{rng.choice(FIRST_NAMES)} {last}",
            None if by_patient else rng.choice(RELATIONSHIPS),
            None if by_patient else _phone(rng),
            first,
            last,
            dob,
            _weighted(rng, [("female", 96), ("male", 2), ("prefer_not_to_say", 2)]),
            email,
            phone,
            _weighted(rng, [("phone", 60), ("email", 15), ("either", 25)]),
            rng.choice(["morning", "afternoon", "any"]),
            rng.choice(STATES),
            f"{rng.randrange(32003, 34997)}",
            language,
            "Haitian Creole" if language == "other" else None,
            language != "english" and rng.random() < 0.5,
            diagnosed,
            json.dumps(sites),
            rng.random() < 0.6,
            insurance,
            rng.choice(CARRIERS) if insurance in ("commercial", "other") else None,
            has_referral,
            rng.choice(NOTES) if rng.random() < 0.3 else None,
            True,
            owner,
            claimed_at if owner else None,
            close_reason,
            closed_at,
            CLOCK.reply_due(submitted_at),
            CLOCK.today(submitted_at),
            callback_at,
            appointment_on,
            contact_at,
            minutes,
        )
        referral = None
        if has_referral:
            referral = (
                index,
                f"Dr. {rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                _phone(rng),
                rng.choice(["Bayside Oncology", "Gulf Coast Medical", None]),
                None,
                None,
                None,
            )
        events, audits = _history(rng, index, status, staff, claimed_at, closed_at, close_reason)
        yield row, referral, events, audits


def _history(rng, request_id, status, staff, claimed_at, closed_at, close_reason):
    if status == "new":
        return [], []
    events = [(request_id, staff, EVENT_CLAIM, "new", "in_progress", None, None, claimed_at)]
    audits = [
        (claimed_at, staff, AUDIT_VIEW, request_id, None, None, "10.0.0.7"),
        (claimed_at, staff, AUDIT_CLAIM, request_id, "new", "in_progress", "10.0.0.7"),
    ]
    at = claimed_at
    path = {
        "in_progress": [],
        "contacted": ["contacted"],
        "scheduled": ["contacted", "scheduled"],
        "closed": ["closed"] if rng.random() < 0.5 else ["contacted", "closed"],
    }[status]
    previous = "in_progress"
    for step in path:
        at = at + timedelta(hours=rng.uniform(2, 72))
        if step == "closed":
            at = closed_at or at
        if rng.random() < 0.5:
            events.append((request_id, staff, EVENT_NOTE, None, None, None, rng.choice(NOTES), at))
        reason = close_reason if step == "closed" else None
        events.append((request_id, staff, EVENT_STATUS, previous, step, reason, None, at))
        audits.append((at, staff, AUDIT_STATUS, request_id, previous, step, "10.0.0.7"))
        previous = step
    return events, audits


def seed(
    sqlalchemy_url: str, *, count: int, password_hash: str, now: datetime | None = None
) -> SeedSummary:
    """Empties the app's tables and fills them. The schema must be at head already."""
    now = now or datetime.now(UTC)
    with psycopg.connect(psycopg_url(sqlalchemy_url)) as conn:
        with conn.cursor() as cur:
            # The audit trail and history refuse TRUNCATE unless audit maintenance is on
            # in this transaction (migration 0006).
            cur.execute("SELECT set_config('intake.audit_maintenance', 'on', true)")
            cur.execute(
                "TRUNCATE audit_events, request_events, referrals, appointment_requests, "
                "staff_users RESTART IDENTITY CASCADE"
            )
            staff_ids = []
            for n in range(1, STAFF_COUNT + 1):
                cur.execute(
                    "INSERT INTO staff_users (email, name, role, password_hash, active, "
                    "wrong_codes) VALUES (%s, %s, %s, %s, true, 0) RETURNING id",
                    (
                        f"staff{n}@bench.example",
                        f"Staff Member {n}",
                        "admin" if n == 1 else "intake",
                        password_hash,
                    ),
                )
                staff_ids.append(cur.fetchone()[0])
                cur.execute(
                    "INSERT INTO staff_second_factors (staff_id, totp_secret, confirmed_at) "
                    "VALUES (%s, %s, now())",
                    (staff_ids[-1], STAFF_TOTP_SECRET),
                )
            by_status: dict[str, int] = {}
            references: list[str] = []
            with (
                cur.copy(
                    f"COPY appointment_requests ({', '.join(REQUEST_COLUMNS)}) FROM STDIN"
                ) as requests_copy,
            ):
                referrals, events, audits = [], [], []
                for row, referral, row_events, row_audits in generate(
                    count, now=now, staff_ids=staff_ids
                ):
                    requests_copy.write_row(row)
                    by_status[row[3]] = by_status.get(row[3], 0) + 1
                    references.append(row[1])
                    if referral:
                        referrals.append(referral)
                    events.extend(row_events)
                    audits.extend(row_audits)
            _copy(cur, "referrals", REFERRAL_COLUMNS, referrals)
            _copy(cur, "request_events", EVENT_COLUMNS, events)
            _copy(cur, "audit_events", AUDIT_COLUMNS, audits)
            counts = {"referrals": len(referrals), "events": len(events), "audits": len(audits)}
            # Rows went in with explicit ids: move the sequence past them.
            cur.execute(
                "SELECT setval(pg_get_serial_sequence('appointment_requests', 'id'), "
                "(SELECT max(id) FROM appointment_requests))"
            )
            # A duplicated patient with history: the detail page's heaviest case.
            cur.execute(
                """
                SELECT r.reference FROM appointment_requests r
                JOIN appointment_requests d ON d.last_name = r.last_name
                  AND d.first_name = r.first_name AND d.date_of_birth = r.date_of_birth
                  AND d.id <> r.id
                WHERE r.status = 'scheduled' ORDER BY r.id DESC LIMIT 1
                """
            )
            found = cur.fetchone()
        conn.commit()
        # VACUUM as well: autovacuum would have run on a settled production database, and
        # index-only scans (the metrics' covering index) need the visibility map it sets.
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
    return SeedSummary(
        requests=count,
        open_requests=by_status.get("new", 0) + by_status.get("in_progress", 0),
        referrals=counts["referrals"],
        events=counts["events"],
        audit_events=counts["audits"],
        staff=len(staff_ids),
        by_status=by_status,
        sample_last_name="Santos-Ortiz",
        sample_reference=references[len(references) // 3],
        sample_detail_reference=found[0] if found else references[-1],
    )


def _copy(cur, table: str, columns: list[str], rows: list[tuple]) -> None:
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
