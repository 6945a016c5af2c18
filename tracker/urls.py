from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from tracker.views import (
    accounts,
    health,
    home,
    initiatives,
    people,
    periods,
    progress_reports,
    public,
    review,
    sheets,
    updates,
)

tracker_patterns = [
    path("", home.home, name="home"),
    path("worklist/sheet.<str:fmt>", sheets.sheet_download, name="worklist-sheet"),
    path("worklist/upload/", sheets.sheet_upload, name="worklist-upload"),
    path("worklist/upload/<uuid:pk>/", sheets.sheet_preview, name="worklist-upload-preview"),
    path("worklist/upload/<uuid:pk>/confirm/", sheets.sheet_confirm, name="worklist-upload-confirm"),
    path("initiatives/", initiatives.InitiativeListView.as_view(), name="initiative-list"),
    path("agencies/suggestions/", initiatives.agency_suggestions, name="agency-suggestions"),
    path("initiatives/<str:code>/", initiatives.initiative_detail, name="initiative-detail"),
    path("initiatives/<str:code>/updates/new/", updates.update_create, name="update-create"),
    path("updates/<int:pk>/", updates.update_detail, name="update-detail"),
    path("updates/<int:pk>/edit/", updates.update_edit, name="update-edit"),
    path("updates.csv", updates.update_export, name="update-export"),
    path("evidence/<int:pk>/", updates.evidence_download, name="evidence-download"),
    path("matrix/", initiatives.matrix, name="matrix"),
    path("report/", initiatives.report_text, name="report"),
    path("review/", review.review_queue, name="review"),
    path("review/decide/", review.review_bulk, name="review-bulk"),
    path("reports/", progress_reports.report_list, name="reports"),
    path("reports/<int:pk>/", progress_reports.progress_report, name="progress-report"),
    path("reports/<int:pk>/state/", progress_reports.progress_report_state, name="progress-report-state"),
    path("reports/<int:pk>.<str:fmt>", progress_reports.progress_report_download, name="progress-report-download"),
    path("review/<int:pk>/", review.review_update, name="review-update"),
    path("periods/", periods.period_list, name="periods"),
    path("periods/new/", periods.period_edit, name="period-create"),
    path("periods/<int:pk>/edit/", periods.period_edit, name="period-edit"),
    path("periods/<int:pk>/state/", periods.period_state, name="period-state"),
    path("preferences/", accounts.preferences, name="preferences"),
    path("people/", people.people, name="people"),
    path("people/invite/", people.people_invite, name="people-invite"),
    path("people/<int:pk>/resend/", people.people_resend, name="people-resend"),
    path("public/", public.PublicInitiativeListView.as_view(), name="public"),
    path("public/initiatives/<str:code>/", public.public_initiative, name="public-initiative"),
    path("public/reports/<int:pk>.<str:fmt>", public.public_report_download, name="public-report-download"),
]

urlpatterns = [
    path("", include((tracker_patterns, "tracker"))),
    path(
        "accounts/password_reset/",
        accounts.PasswordResetView.as_view(),
        name="password_reset",
    ),
    path("accounts/two-factor/", accounts.two_factor, name="two-factor"),
    path("accounts/two-factor/verify/", accounts.two_factor_verify, name="two-factor-verify"),
    path("accounts/invitation/<uidb64>/<token>/", people.invitation_accept, name="invitation-accept"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/setlang/", accounts.set_language, name="set_language"),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    # Browsers ask for /favicon.ico whatever the page says.
    path("favicon.ico", health.favicon, name="favicon"),
]

# A database that is briefly unreachable gets a 503 that says so (tracker.views.health.server_error).
handler500 = "tracker.views.health.server_error"

# A constant page through the same middleware, for scripts/bench_web.py; off unless BENCHMARK_BASELINE.
if settings.BENCHMARK_BASELINE:
    urlpatterns.append(path("bench/baseline/", health.benchmark_baseline, name="bench-baseline"))
