"""Reports from users and the moderators' review queue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from clipfeed.accounts.models import User
from clipfeed.core.errors import Forbidden
from clipfeed.core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from clipfeed.http.deps import CurrentUser, Deps
from clipfeed.http.params import CaseId, CaseIdQuery, UserRef
from clipfeed.moderation import service, subjects
from clipfeed.moderation.models import (
    AuditPage,
    CaseDetail,
    CasePage,
    CasePublic,
    CaseStatus,
    DecisionRequest,
    ReportAccepted,
    ReportRequest,
    SubjectKind,
    SuspensionRequest,
)

router = APIRouter(prefix="/v1", tags=["moderation"])
subjects.register()
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


def _moderator(user: User) -> User:
    if not user.is_moderator:
        raise Forbidden("moderators only")
    return user


@router.post("/reports", status_code=status.HTTP_202_ACCEPTED, response_model=ReportAccepted)
async def report(body: ReportRequest, user: CurrentUser, services: Deps) -> ReportAccepted:
    """Report a clip, comment or user; it joins the moderation queue."""
    await services.limiter.hit("report", str(user.id), limit=30, per_seconds=3600)
    case = await service.report(services=services, reporter=user, request=body)
    return ReportAccepted(case_id=str(case.id), status=CaseStatus(case.status))


@router.get("/moderation/queue", response_model=CasePage)
async def queue(user: CurrentUser, services: Deps, status_: Annotated[CaseStatus | None, Query(alias="status")]
                = CaseStatus.pending, kind: SubjectKind | None = None, cursor: str | None = None,
                limit: Limit = DEFAULT_LIMIT) -> CasePage:
    _moderator(user)
    cases, next_cursor = await service.list_cases(db=services.db, status=status_, kind=kind, cursor=cursor,
                                                  limit=limit)
    return CasePage(items=[service.case_view(c) for c in cases], next_cursor=next_cursor)


@router.get("/moderation/cases/{case_id}", response_model=CaseDetail)
async def get_case(case_id: CaseId, user: CurrentUser, services: Deps) -> CaseDetail:
    """The case, what it is about (a held clip's media signed for review) and its reports."""
    _moderator(user)
    case = await service.get_case(db=services.db, case_id=case_id)
    return await service.case_detail(services=services, case=case, moderator_id=user.id)


@router.post("/moderation/cases/{case_id}/approve", response_model=CasePublic)
async def approve(case_id: CaseId, user: CurrentUser, services: Deps,
                  body: DecisionRequest | None = None) -> CasePublic:
    case = await service.decide(services=services, case_id=case_id, moderator=_moderator(user), approve=True,
                                reason=body.reason if body else "")
    return service.case_view(case)


@router.post("/moderation/cases/{case_id}/reject", response_model=CasePublic)
async def reject(case_id: CaseId, body: DecisionRequest, user: CurrentUser, services: Deps) -> CasePublic:
    case = await service.decide(services=services, case_id=case_id, moderator=_moderator(user), approve=False,
                                reason=body.reason)
    return service.case_view(case)


@router.get("/moderation/audit", response_model=AuditPage)
async def audit(user: CurrentUser, services: Deps, case_id: CaseIdQuery = None, cursor: str | None = None,
                limit: Limit = DEFAULT_LIMIT) -> AuditPage:
    _moderator(user)
    entries, next_cursor = await service.audit_log(db=services.db, case_id=case_id, cursor=cursor, limit=limit)
    handles = await service.handles_of(db=services.db, user_ids={e.actor_id for e in entries if e.actor_id})
    return AuditPage(items=[service.audit_view(e, handles) for e in entries], next_cursor=next_cursor)


@router.post("/moderation/users/{user_ref}/suspend", response_model=CasePublic)
async def suspend(user_ref: UserRef, body: SuspensionRequest, user: CurrentUser, services: Deps) -> CasePublic:
    """Suspend an account (signed out everywhere, hidden, sign-in refused); recorded as a
    decided case, so the audit list shows it. Only an admin may suspend a moderator."""
    case = await subjects.set_suspension(services=services, moderator=_moderator(user), ref=user_ref,
                                         suspend=True, reason=body.reason)
    return service.case_view(case)


@router.post("/moderation/users/{user_ref}/reinstate", response_model=CasePublic)
async def reinstate(user_ref: UserRef, body: SuspensionRequest, user: CurrentUser, services: Deps) -> CasePublic:
    """Lift a suspension, with a reason for the audit list."""
    case = await subjects.set_suspension(services=services, moderator=_moderator(user), ref=user_ref,
                                         suspend=False, reason=body.reason)
    return service.case_view(case)
