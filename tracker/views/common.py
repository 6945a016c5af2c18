"""What every page module needs: the sign-in rule and the open period."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from tracker import permissions
from tracker.models import ReportingPeriod


def tracker_user_required(view):
    """Logged in, with a role in the tracker; anyone else is sent to the login page or refused."""

    @login_required
    def wrapped(request, *args, **kwargs):
        if not permissions.can_use_tracker(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def open_period() -> ReportingPeriod | None:
    return ReportingPeriod.objects.open().order_by("due_date").first()
