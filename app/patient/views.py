"""The private page of a request (issue 29), under /your-request (and /es/your-request).

How a browser gets in: the link from the e-mail (``open``: its token in the query string,
which no log keeps, then a 303 to a clean address), then the patient's date of birth
(``check``); or the button on the confirmation, in the browser that sent the request. The
session then holds the link's id, and every page checks that the link still works.
No account, nothing to remember; closing the browser ends it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import format_date

from app.common.extensions import csrf
from app.db import get_session
from app.mail import outbox
from app.patient import wording
from app.patient.forms import (
    ContactForm,
    DateOfBirthForm,
    LinkRequestForm,
    ReleaseForm,
    UploadForm,
    expiry,
)
from app.records import documents, releases
from app.records import settings as records_settings
from app.requests import patient_page, private_links, reference_codes
from app.serving.language import language_of
from app.serving.limits import limiter
from app.templating import phone
from app.transactions import commits, keep_refusal, read_only
from app.vocabulary import DocumentKind, Signer

bp = Blueprint("patient", __name__, url_prefix="/your-request")

# What the session holds: the link opened in this browser, and the link this browser has
# proved (the date of birth, or being the browser that sent the request).
LINK = "patient_link"
PROVED = "patient_proved"


def _check_limit() -> str:
    return current_app.config["PATIENT_CHECK_RATE_LIMIT"]


def _link_request_limit() -> str:
    return current_app.config["LINK_REQUEST_RATE_LIMIT"]


def _policy() -> private_links.LinkPolicy:
    c = current_app.config
    return private_links.LinkPolicy(
        days_after_closing=c["PATIENT_LINK_DAYS_AFTER_CLOSING"],
        attempts=c["PATIENT_LINK_ATTEMPTS"],
        lock_minutes=c["PATIENT_LINK_LOCK_MINUTES"],
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _forget() -> None:
    session.pop(LINK, None)
    session.pop(PROVED, None)


def _proved_link() -> private_links.OpenLink | None:
    """The link this browser has proved, if it still works."""
    link_id = session.get(PROVED)
    if link_id is None or link_id != session.get(LINK):
        return None
    found = private_links.current(get_session(), link_id=link_id, now=_now(), policy=_policy())
    if found is None:
        _forget()
    return found


def _needs_link():
    """Where a browser without a proved link goes: the date of birth for a link it opened,
    else the page that explains and offers a new link."""
    if session.get(LINK) is not None and private_links.current(
        get_session(), link_id=session.get(LINK), now=_now(), policy=_policy()
    ):
        return redirect(url_for(".check"), code=303)
    _forget()
    return redirect(url_for(".link_not_working"), code=303)


def _client_ip() -> str | None:
    return request.remote_addr


# Getting in -------------------------------------------------------------------------------


@bp.get("/open")
@read_only
def open_link():
    token = request.args.get("key", "")
    found = private_links.open_link(get_session(), token=token, now=_now(), policy=_policy())
    if found is None:
        _forget()
        return redirect(url_for(".link_not_working"), code=303)
    if session.get(PROVED) != found.link_id:
        session.pop(PROVED, None)
    session[LINK] = found.link_id
    # A clean address: the token stays out of the history, bookmarks and any Referer.
    target = ".status" if session.get(PROVED) == found.link_id else ".check"
    return redirect(url_for(target), code=303)


@bp.get("/link-not-working")
@read_only
def link_not_working():
    return render_template("patient/link_not_working.html")


@bp.get("/check")
@read_only
def check():
    if session.get(LINK) is None:
        return redirect(url_for(".link_not_working"), code=303)
    if _proved_link() is not None:
        return redirect(url_for(".status"), code=303)
    return render_template("patient/check.html", form=DateOfBirthForm(formdata=None))


@bp.post("/check")
# Wrong answers per address (any links): only a refused answer counts.
@limiter.limit(
    _check_limit, methods=["POST"], deduct_when=lambda response: response.status_code == 400
)
@commits
def check_answer():
    link_id = session.get(LINK)
    db = get_session()
    link = private_links.current(db, link_id=link_id, now=_now(), policy=_policy())
    if link is None:
        _forget()
        return redirect(url_for(".link_not_working"), code=303)
    form = DateOfBirthForm()
    if not form.validate_on_submit():
        return render_template("patient/check.html", form=form), 422
    # A wrong answer is counted on the link although the page then answers 400.
    result = keep_refusal(
        lambda: private_links.check_date_of_birth(
            db,
            link_id=link.link_id,
            typed=form.date_of_birth(),
            now=_now(),
            policy=_policy(),
            client_ip=_client_ip(),
        )
    )
    if result == private_links.CheckResult.LOCKED:
        return render_template(
            "patient/locked.html", minutes=current_app.config["PATIENT_LINK_LOCK_MINUTES"]
        ), 429
    if result == private_links.CheckResult.WRONG:
        form.dob_month.errors = [wording.DATE_OF_BIRTH_WRONG]
        return render_template("patient/check.html", form=form), 400
    session[PROVED] = link.link_id
    return redirect(url_for(".status"), code=303)


@bp.post("/from-confirmation")
@read_only
def from_confirmation():
    """The confirmation's button, in the browser that sent the request: no date of birth
    (its session holds the reference, which only the send put there)."""
    reference = request.form.get("reference", "")
    db = get_session()
    if reference in session.get("submitted_references", []):
        found = private_links.for_sender(db, reference=reference, now=_now(), policy=_policy())
        if found is not None:
            session[LINK] = session[PROVED] = found.link_id
            return redirect(url_for(".status"), code=303)
    return redirect(url_for(".link_not_working"), code=303)


@bp.post("/leave")
@read_only
def leave():
    _forget()
    return redirect(url_for(".left"), code=303)


@bp.get("/left")
@read_only
def left():
    return render_template("patient/left.html")


@bp.route("/new-link", methods=["GET", "POST"])
@limiter.limit(_link_request_limit, methods=["POST"])
@commits
def new_link():
    form = LinkRequestForm()
    if not form.validate_on_submit():
        code = 400 if form.errors else 200
        return render_template("patient/new_link.html", form=form), code
    db = get_session()
    fresh = private_links.request_again(
        db,
        reference=form.parsed_reference(),
        date_of_birth=form.date_of_birth(),
        contact=form.contact_as_stored(),
        now=_now(),
        client_ip=_client_ip(),
    )
    if fresh is not None:
        outbox.queue_request_link(db, link=fresh)
    # The same answer whether or not anything matched.
    return redirect(url_for(".new_link_sent"), code=303)


@bp.get("/new-link/sent")
@read_only
def new_link_sent():
    return render_template("patient/new_link_sent.html")


# The private page -------------------------------------------------------------------------


def _statements(expires) -> list:
    config = current_app.config
    return wording.release_statements(
        center=config["CENTER_NAME"],
        phone=config["CENTER_PHONE"],
        expires=format_date(expires, format="long"),
    )


def _page_context(link: private_links.OpenLink) -> dict:
    config = current_app.config
    clock = current_app.extensions["business_clock"]
    page = patient_page.patient_page(get_session(), request_id=link.request_id, now=_now())
    return {
        "page": page,
        "statements": _statements(expiry(clock.today(_now()))),
        "reference": reference_codes.display(page.reference),
        "reply_days": config["REPLY_BUSINESS_DAYS"],
        "callback_phone": config["CENTER_CALLBACK_PHONE"],
        "clock": clock,
    }


@bp.get("")
@read_only
def status():
    link = _proved_link()
    if link is None:
        return _needs_link()
    return render_template("patient/status.html", **_page_context(link))


def _contact_form(page: patient_page.PatientPage, formdata=None) -> ContactForm:
    contact = page.contact
    if formdata is None:
        form = ContactForm(
            formdata=None,
            data={
                "phone": _typed_phone(contact.phone, contact.phone_ext),
                "email": contact.email or "",
                "contact_method": contact.contact_method.value,
                "best_time_to_call": contact.best_time_to_call.value,
                "submitter_phone": _typed_phone(
                    contact.submitter_phone, contact.submitter_phone_ext
                ),
                "submitter_email": contact.submitter_email or "",
                "call_first": contact.call_first.value if contact.call_first else None,
            },
        )
    else:
        form = ContactForm()
    return form.for_patient() if page.for_patient else form


def _typed_phone(number: str | None, extension: str | None) -> str:
    if not number:
        return ""
    shown = phone(number)
    return f"{shown} ext. {extension}" if extension else shown


@bp.route("/contact", methods=["GET", "POST"])
@commits
def contact():
    link = _proved_link()
    if link is None:
        return _needs_link()
    context = _page_context(link)
    page = context["page"]
    form = _contact_form(page, formdata=request.form if request.method == "POST" else None)
    if request.method == "GET" or not form.validate_on_submit():
        code = 400 if form.errors else 200
        return render_template("patient/contact.html", form=form, **context), code
    details = form.details(caregiver=not page.for_patient)
    db = get_session()
    changed = patient_page.change_contact(
        db, request_id=link.request_id, details=details, now=_now(), client_ip=_client_ip()
    )
    return redirect(url_for(".status", saved="contact" if changed else "unchanged"), code=303)


# Sending records ----------------------------------------------------------------------------


@bp.get("/records")
@read_only
def records():
    link = _proved_link()
    if link is None:
        return _needs_link()
    return _records_page(link, UploadForm(formdata=None))


def _records_page(link, form, *, outcomes=(), files_error=None, code=200):
    config = current_app.config
    return render_template(
        "patient/records.html",
        form=form,
        outcomes=outcomes,
        files_error=files_error,
        max_file_mb=config["RECORDS_MAX_FILE_MB"],
        max_request_mb=config["RECORDS_MAX_REQUEST_MB"],
        files_per_send=records_settings.FILES_PER_SEND,
        **_page_context(link),
    ), code


@bp.post("/records")
# The one address that takes more than MAX_CONTENT_LENGTH: its own limit is set before the
# body is read, so the CSRF check (which reads the form) runs in the view, after it.
@csrf.exempt
@commits
def send_records():
    request.max_content_length = records_settings.upload_body_limit(current_app.config)
    csrf.protect()
    link = _proved_link()
    if link is None:
        return _needs_link()
    form = UploadForm()
    sent = [
        f
        for f in request.files.getlist("files") + request.files.getlist("photo")
        if f and f.filename
    ]
    wants_json = request.accept_mimetypes.best == "application/json"
    kind_chosen = form.validate()
    files_error = None
    if not sent:
        files_error = wording.NO_FILE
    elif len(sent) > records_settings.FILES_PER_SEND:
        files_error = wording.too_many_files(records_settings.FILES_PER_SEND)
    if not kind_chosen or files_error is not None:
        if wants_json:
            errors = [str(m) for m in (files_error, *form.kind.errors) if m]
            return {"errors": errors}, 400
        return _records_page(link, form, files_error=files_error, code=400)
    config = current_app.config
    kind = DocumentKind(form.kind.data)
    db = get_session()
    outcomes = []
    for upload in sent:
        data = upload.read(records_settings.upload_body_limit(config))
        upload.close()
        try:
            # Each file in a savepoint of its own, with its audit entry: one refused
            # leaves nothing behind and never takes the others with it.
            with db.begin_nested():
                received = documents.receive(
                    db,
                    request_id=link.request_id,
                    kind=kind,
                    data=data,
                    now=_now(),
                    limits=records_settings.limits(config),
                    scanner=records_settings.scanner(config),
                    storage=records_settings.storage(config),
                    client_ip=_client_ip(),
                )
        except documents.Refused as refusal:
            outcomes.append(wording.refused(refusal.reason, upload.filename, config=config))
            continue
        outcomes.append(wording.received(received, upload.filename))
    if wants_json:
        return {"outcomes": [o.as_json() for o in outcomes]}, 200
    if all(o.ok for o in outcomes):
        return redirect(url_for(".status", saved="records", count=len(outcomes)), code=303)
    # Each file's outcome, the kept ones committed with the page (a 200: the send was
    # taken, file by file; its page says which were refused and why).
    return _records_page(link, UploadForm(formdata=None), outcomes=outcomes)


# The release ----------------------------------------------------------------------------------


@bp.route("/release", methods=["GET", "POST"])
@commits
def release():
    link = _proved_link()
    if link is None:
        return _needs_link()
    context = _page_context(link)
    form = ReleaseForm() if request.method == "POST" else ReleaseForm(formdata=None)
    today = current_app.extensions["business_clock"].today(_now())
    if not (form.is_submitted() and form.validate(today=today)):
        code = 400 if form.errors else 200
        return render_template("patient/release.html", form=form, today=today, **context), code
    signature = releases.Signature(
        holders=[releases.Holder(**h) for h in form.holders()],
        records=list(form.records.data),
        signer=Signer(form.signer.data),
        signer_name=form.signature.data,
        signer_authority=form.signer_authority.data or None,
        signed_on=form.signed_on(),
        expires_on=expiry(form.signed_on()),
        language=language_of(request.environ),
        text="",
    )
    # The text as the signer read it, with their answers and the end date of their
    # signature (the page showed the same sentences).
    text = render_template(
        "patient/release_text.txt",
        signature=signature,
        **{**context, "statements": _statements(signature.expires_on)},
    )
    signature = releases.Signature(**{**signature.__dict__, "text": text})
    db = get_session()
    signed = releases.sign(
        db, request_id=link.request_id, signature=signature, now=_now(), client_ip=_client_ip()
    )
    return redirect(url_for(".signed_release", release_id=signed.id), code=303)


@bp.get("/release/<id:release_id>")
@read_only
def signed_release(release_id: int):
    """The signer's own copy (HIPAA: the person gets a copy), to print or keep."""
    link = _proved_link()
    if link is None:
        return _needs_link()
    found = [
        r
        for r in releases.releases_of(get_session(), request_id=link.request_id)
        if r.id == release_id
    ]
    if not found:
        abort(404)
    return render_template("patient/signed_release.html", release=found[0], **_page_context(link))
