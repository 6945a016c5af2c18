"""Who may do what: the one place every view, export, filter and download asks.

- An **official** reads everything that is not private; writes updates for its own agency on the initiatives
  its agency owns; edits its own agency's drafts and returned updates; sees its agency's private evidence.
- The **secretariat** (each country's Technical Secretariat) reads everything submitted, reviews the updates
  of its own country's agencies, and manages reporting periods and progress reports; it invites the officials
  and secretariat members of its own country's agencies.
- An **admin** may do what both secretariats may, and uses the Django admin.
- The **public** (not logged in) sees only the public view.

A draft belongs to its agency alone until it is submitted. Anything a user may not see is answered with 404,
so that changing an id in a URL tells nothing about what exists.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from tracker.choices import ReviewState, Role
from tracker.models import Agency, Evidence, Initiative, Profile, StatusUpdate


def profile_of(user) -> Profile | None:
    if not user.is_authenticated:
        return None
    try:
        return user.profile
    except Profile.DoesNotExist:
        return None


def role_of(user) -> str | None:
    """The user's role; a superuser without a profile counts as admin."""
    profile = profile_of(user)
    if profile is not None:
        return profile.role
    if user.is_authenticated and user.is_superuser:
        return Role.ADMIN
    return None


def agency_of(user) -> Agency | None:
    profile = profile_of(user)
    return profile.agency if profile is not None else None


def is_official(user) -> bool:
    return role_of(user) == Role.OFFICIAL and agency_of(user) is not None


def is_reviewer(user) -> bool:
    """Secretariat staff and admins: they see everything submitted and review updates."""
    return role_of(user) in (Role.SECRETARIAT, Role.ADMIN)


def is_admin(user) -> bool:
    return role_of(user) == Role.ADMIN


def can_use_tracker(user) -> bool:
    """Logged in with a role: may read the internal pages."""
    return role_of(user) is not None


# --- Updates ------------------------------------------------------------------------------------------


def can_report_on(user, initiative: Initiative) -> bool:
    """An official may write updates on the initiatives its agency owns (lead or supporting)."""
    if not is_official(user):
        return False
    agency_id = agency_of(user).pk
    # all(): the initiative's few ownerships, already loaded where the page prefetched them.
    return any(ownership.agency_id == agency_id for ownership in initiative.ownerships.all())


def reportable_initiatives(user) -> QuerySet[Initiative]:
    if not is_official(user):
        return Initiative.objects.none()
    return Initiative.objects.owned_by(agency_of(user))


def visible_updates(user) -> QuerySet[StatusUpdate]:
    """The updates a user may read: accepted ones for everyone logged in; the rest by who is involved."""
    if not can_use_tracker(user):
        return StatusUpdate.objects.none()
    visible = Q(review_state=ReviewState.ACCEPTED)
    if is_reviewer(user):
        visible |= Q(review_state__in=[ReviewState.SUBMITTED, ReviewState.RETURNED])
    agency = agency_of(user)
    if is_official(user):
        visible |= Q(agency=agency)
    return StatusUpdate.objects.filter(visible)


def exportable_updates(user) -> QuerySet[StatusUpdate]:
    """The updates a user may download as a spreadsheet (tracker.exports): what the user may read, and for an
    official only its own agency's (the other agencies' accepted updates are on the pages, not in its file)."""
    updates = visible_updates(user)
    if is_official(user):
        return updates.filter(agency=agency_of(user))
    return updates


def can_view_update(user, update: StatusUpdate) -> bool:
    return visible_updates(user).filter(pk=update.pk).exists()


def can_edit_update(user, update: StatusUpdate) -> bool:
    """An official edits its own agency's drafts and returned updates; a submitted update is read-only."""
    return is_official(user) and update.agency_id == agency_of(user).pk and update.is_editable


def can_review(user, update: StatusUpdate) -> bool:
    """Each country's secretariat reviews the updates of its own country's agencies; admins review all."""
    if update.review_state != ReviewState.SUBMITTED:
        return False
    if is_admin(user):
        return True
    agency = agency_of(user)
    return role_of(user) == Role.SECRETARIAT and agency is not None and agency.country == update.agency.country


def reviewable_updates(user) -> QuerySet[StatusUpdate]:
    queue = StatusUpdate.objects.awaiting_review()
    if is_admin(user):
        return queue
    agency = agency_of(user)
    if role_of(user) == Role.SECRETARIAT and agency is not None:
        return queue.filter(agency__country=agency.country)
    return StatusUpdate.objects.none()


# --- Evidence -----------------------------------------------------------------------------------------


def can_view_evidence(user, evidence: Evidence) -> bool:
    """Private evidence: the reporting agency and the reviewers. Public evidence: whoever may see the update."""
    return can_view_update(user, evidence.update) and can_view_evidence_of_visible_update(user, evidence)


def can_view_evidence_of_visible_update(user, evidence: Evidence) -> bool:
    """The evidence rule alone, for a page that has already checked the user may see the update."""
    update = evidence.update
    if evidence.is_public and update.review_state == ReviewState.ACCEPTED:
        return True
    return is_reviewer(user) or (is_official(user) and agency_of(user).pk == update.agency_id)


# --- Reporting periods ----------------------------------------------------------------------------------


def can_manage_periods(user) -> bool:
    return is_reviewer(user)


# --- Progress reports -----------------------------------------------------------------------------------


def can_manage_reports(user) -> bool:
    """Build, freeze and publish progress reports: the secretariats (and admins)."""
    return is_reviewer(user)


def visible_reports(user):
    """Reviewers see every report, drafts included; everyone else, the published ones."""
    from tracker.choices import ReportState
    from tracker.models import ProgressReport

    if is_reviewer(user):
        return ProgressReport.objects.all()
    return ProgressReport.objects.filter(state=ReportState.PUBLISHED)


# --- People ---------------------------------------------------------------------------------------------


def can_invite(user, agency: Agency | None = None) -> bool:
    """Invite officials and secretariat members (tracker/invitations.py): an admin anyone, a secretariat member
    those of its own country's agencies, an official nobody. Without an agency: whether the user may invite at
    all (the people pages)."""
    if is_admin(user):
        return True
    own = agency_of(user)
    if role_of(user) != Role.SECRETARIAT or own is None:
        return False
    return agency is None or agency.country == own.country


def invitable_people(user) -> QuerySet[Profile]:
    """The officials and secretariat members the user may invite, invited or not (the people page)."""
    people = Profile.objects.filter(role__in=[Role.OFFICIAL, Role.SECRETARIAT]).exclude(agency=None)
    if is_admin(user):
        return people
    if can_invite(user):
        return people.filter(agency__country=agency_of(user).country)
    return Profile.objects.none()
