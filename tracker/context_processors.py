from tracker import permissions


def tracker_user(request):
    """What every page's header needs to know about the viewer."""
    return {
        "is_reviewer": permissions.is_reviewer(request.user),
        "user_agency": permissions.agency_of(request.user),
    }
