"""The review queue: open cases (automated holds and user reports), decide them, audit all.

What a decision does to its subject is up to the feature that owns the subject: it registers
a handler with ``on_decision``; likewise ``on_report_check`` says whether a subject exists and
is visible to the reporter (so reports never leak private things).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Protocol

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clipfeed.accounts import service as accounts
from clipfeed.core import contract
from clipfeed.core.errors import BadRequest, Conflict, Forbidden, NotFound
from clipfeed.core.ids import IdGenerator
from clipfeed.core.pagination import id_page
from clipfeed.infra.db import Database, utcnow
from clipfeed.moderation.models import (
    AuditEntry,
    AuditPublic,
    CaseDetail,
    CasePublic,
    CaseSource,
    CaseStatus,
    CaseSubject,
    ModerationCase,
    Report,
    ReportPublic,
    ReportRequest,
    SubjectKind,
)
from clipfeed.runtime.outbox import Outbox

if TYPE_CHECKING:
    from clipfeed.accounts.models import User
    from clipfeed.runtime.services import Services


# What each kind of subject registers. Like every service function they take the services by
# keyword; the rest is positional, so handlers may name their parameters as they like.
class DecisionHandler(Protocol):
    """Applies a moderator's decision on a case (approved or not, with the reason)."""

    def __call__(self, case: ModerationCase, approved: bool, reason: str, /, *,
                 services: Services) -> Awaitable[None]: ...


class ReportCheck(Protocol):
    """The owner id of the reported subject; raises NotFound when the subject does not exist
    or the reporter cannot see it."""

    def __call__(self, subject_id: int, reporter_id: int, /, *, services: Services) -> Awaitable[int | None]: ...


class HideHandler(Protocol):
    """Runs when reports pass the hide threshold."""

    def __call__(self, case: ModerationCase, /, *, services: Services) -> Awaitable[None]: ...


class Describer(Protocol):
    """What the subject is, for the console."""

    def __call__(self, case: ModerationCase, moderator_id: int, /, *, services: Services) -> Awaitable[CaseSubject]: ...

_decision_handlers: dict[str, DecisionHandler] = {}
_report_checks: dict[str, ReportCheck] = {}
_hide_handlers: dict[str, HideHandler] = {}
_describers: dict[str, Describer] = {}


def on_decision(kind: SubjectKind, handler: DecisionHandler) -> None:
    _decision_handlers[kind.value] = handler


def on_report_check(kind: SubjectKind, check: ReportCheck) -> None:
    _report_checks[kind.value] = check


def on_hide(kind: SubjectKind, handler: HideHandler) -> None:
    _hide_handlers[kind.value] = handler


def on_describe(kind: SubjectKind, describer: Describer) -> None:
    _describers[kind.value] = describer


async def enqueue(*, db: Database, outbox: Outbox, ids: IdGenerator, subject_kind: str, subject_id: int,
                  source: str, reason: str, scores: dict[str, float] | None = None,
                  reporter_id: int | None = None, subject_owner_id: int | None = None,
                  category: str = "other", note: str = "", opened_by: int | None = None) -> ModerationCase:
    """Open a case for the subject, or join the pending one. A repeated report from the same
    user is idempotent. ``opened_by``: the moderator who opened it (None: screening or reports).
    All in one transaction: a crash leaves either nothing or the whole case."""
    kind = SubjectKind(subject_kind).value
    for attempt in range(3):
        try:
            async with db.session() as session:
                case = await _pending_case(session, kind, subject_id)
                if case is None:
                    case = ModerationCase(id=ids.next_id(), subject_kind=kind, subject_id=subject_id,
                                          subject_owner_id=subject_owner_id, status=CaseStatus.pending.value,
                                          source=CaseSource(source).value, reason=reason, scores=dict(scores or {}),
                                          report_count=0)
                    session.add(case)
                    _audit(session, ids, case.id, opened_by, "opened", f"{source}: {reason}")
                    outbox.record(session, contract.CASE_OPENED, key=subject_id,
                                  payload=contract.CaseOpened(case_id=case.id, subject_kind=kind,
                                                              subject_id=subject_id, source=source))
                else:
                    if scores:
                        case.scores = {**case.scores, **scores}
                    if source == CaseSource.auto.value and reason not in case.reason:
                        case.reason = f"{case.reason}; {reason}" if case.reason else reason
                if reporter_id is not None:
                    already = await session.scalar(sa.select(Report.id).where(
                        Report.case_id == case.id, Report.reporter_id == reporter_id))
                    if already is None:
                        session.add(Report(id=ids.next_id(), case_id=case.id, reporter_id=reporter_id,
                                           category=category, note=note))
                        case.report_count = (case.report_count or 0) + 1
                        _audit(session, ids, case.id, reporter_id, "reported", f"{category}: {note}"[:1000])
            return case
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def report(*, services: Services, reporter: User, request: ReportRequest) -> ModerationCase:
    check = _report_checks.get(request.kind.value)
    if check is None:
        raise BadRequest(f"{request.kind.value}s cannot be reported yet")
    owner_id = await check(request.id, reporter.id, services=services)
    if owner_id == reporter.id:
        raise BadRequest("you cannot report your own content")
    case = await enqueue(db=services.db, outbox=services.outbox, ids=services.ids,
                         subject_kind=request.kind.value, subject_id=request.id, source=CaseSource.report.value,
                         reason=f"reported: {request.category.value}", reporter_id=reporter.id,
                         subject_owner_id=owner_id, category=request.category.value, note=request.note)
    hide = _hide_handlers.get(case.subject_kind)
    if hide and case.report_count >= services.settings.moderation_report_hide_threshold:
        await hide(case, services=services)
    return case


async def list_cases(*, db: Database, status: CaseStatus | None, kind: SubjectKind | None,
                     cursor: str | None, limit: int) -> tuple[list[ModerationCase], str | None]:
    query = sa.select(ModerationCase)
    if status is not None:
        query = query.where(ModerationCase.status == status.value)
    if kind is not None:
        query = query.where(ModerationCase.subject_kind == kind.value)
    # oldest first: a queue is worked from its head
    return await id_page(db, query, ModerationCase.id, cursor=cursor, limit=limit, newest_first=False)


async def get_case(*, db: Database, case_id: int) -> ModerationCase:
    async with db.session() as session:
        case = await session.get(ModerationCase, case_id)
    if case is None:
        raise NotFound(f"no moderation case {case_id}")
    return case


async def decide(*, services: Services, case_id: int, moderator: User, approve: bool,
                 reason: str) -> ModerationCase:
    """Record the decision and apply it to the subject. The decision commits first; if the
    process dies before the subject handler runs, ``clipfeed admin`` can re-apply it (the
    handlers are idempotent) and the audit log shows the decision."""
    if not moderator.is_moderator:
        raise Forbidden("moderators only")
    if not approve and not reason.strip():
        raise BadRequest("a rejection needs a reason: the creator will see it")
    async with services.db.session() as session:
        case = await session.get(ModerationCase, case_id, with_for_update=True)
        if case is None:
            raise NotFound(f"no moderation case {case_id}")
        if case.status != CaseStatus.pending.value:
            raise Conflict(f"case {case_id} was already {case.status}")
        case.status = (CaseStatus.approved if approve else CaseStatus.rejected).value
        case.decided_by = moderator.id
        case.decided_at = utcnow()
        case.decision_reason = reason
        _audit(session, services.ids, case.id, moderator.id, case.status, reason)
        services.outbox.record(session, contract.CASE_DECIDED[case.status], key=case.subject_id,
                               actor_id=moderator.id,
                               payload=contract.CaseDecided(case_id=case.id, subject_kind=case.subject_kind,
                                                            subject_id=case.subject_id, reason=reason))
    handler = _decision_handlers.get(case.subject_kind)
    if handler is not None:
        await handler(case, approve, reason, services=services)
    return case


async def audit_log(*, db: Database, case_id: int | None, cursor: str | None,
                    limit: int) -> tuple[list[AuditEntry], str | None]:
    query = sa.select(AuditEntry)
    if case_id is not None:
        query = query.where(AuditEntry.case_id == case_id)
    return await id_page(db, query, AuditEntry.id, cursor=cursor, limit=limit)


async def _pending_case(session: AsyncSession, kind: str, subject_id: int) -> ModerationCase | None:
    return await session.scalar(sa.select(ModerationCase).where(
        ModerationCase.subject_kind == kind, ModerationCase.subject_id == subject_id,
        ModerationCase.status == CaseStatus.pending.value).with_for_update())


def _audit(session: AsyncSession, ids: IdGenerator, case_id: int, actor_id: int | None, action: str,
           detail: str) -> None:
    session.add(AuditEntry(id=ids.next_id(), case_id=case_id, actor_id=actor_id, action=action, detail=detail))


def case_view(case: ModerationCase) -> CasePublic:
    return CasePublic(
        id=str(case.id), subject_kind=SubjectKind(case.subject_kind), subject_id=str(case.subject_id),
        subject_owner_id=None if case.subject_owner_id is None else str(case.subject_owner_id),
        status=CaseStatus(case.status), source=CaseSource(case.source), reason=case.reason,
        scores=dict(case.scores or {}), report_count=case.report_count, created_at=case.created_at,
        decided_by=None if case.decided_by is None else str(case.decided_by), decided_at=case.decided_at,
        decision_reason=case.decision_reason)


def audit_view(entry: AuditEntry, handles: dict[int, str] | None = None) -> AuditPublic:
    return AuditPublic(id=str(entry.id), case_id=str(entry.case_id),
                       actor_id=None if entry.actor_id is None else str(entry.actor_id),
                       actor_handle=(handles or {}).get(entry.actor_id) if entry.actor_id is not None else None,
                       action=entry.action, detail=entry.detail, created_at=entry.created_at)


async def handles_of(*, db: Database, user_ids: set[int]) -> dict[int, str]:
    """Handles of the people named in a page (deleted accounts included: the audit keeps them)."""
    found = await accounts.get_many(db=db, user_ids=sorted(user_ids))
    return {uid: user.handle for uid, user in found.items()}


async def case_detail(*, services: Services, case: ModerationCase, moderator_id: int) -> CaseDetail:
    """The case with its subject (as its owning feature describes it) and every report on it."""
    async with services.db.session() as session:
        reports = list((await session.scalars(sa.select(Report).where(Report.case_id == case.id)
                                              .order_by(Report.id))).all())
    handles = await handles_of(db=services.db, user_ids={r.reporter_id for r in reports})
    describe = _describers.get(case.subject_kind)
    subject = (await describe(case, moderator_id, services=services) if describe is not None else
               CaseSubject(kind=SubjectKind(case.subject_kind), id=str(case.subject_id), exists=False))
    return CaseDetail(**case_view(case).model_dump(), subject=subject, reports=[
        ReportPublic(id=str(r.id), reporter_handle=handles.get(r.reporter_id), category=r.category, note=r.note,
                     created_at=r.created_at) for r in reports])


