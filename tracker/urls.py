from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from tracker import views

tracker_patterns = [
    path("", views.home, name="home"),
    path("initiatives/", views.InitiativeListView.as_view(), name="initiative-list"),
    path("agencies/suggestions/", views.agency_suggestions, name="agency-suggestions"),
    path("initiatives/<str:code>/", views.initiative_detail, name="initiative-detail"),
    path("initiatives/<str:code>/updates/new/", views.update_create, name="update-create"),
    path("updates/<int:pk>/", views.update_detail, name="update-detail"),
    path("updates/<int:pk>/edit/", views.update_edit, name="update-edit"),
    path("updates.csv", views.update_export, name="update-export"),
    path("evidence/<int:pk>/", views.evidence_download, name="evidence-download"),
    path("matrix/", views.matrix, name="matrix"),
    path("report/", views.report_text, name="report"),
    path("review/", views.review_queue, name="review"),
    path("reports/", views.report_list, name="reports"),
    path("reports/<int:pk>/", views.progress_report, name="progress-report"),
    path("reports/<int:pk>/state/", views.progress_report_state, name="progress-report-state"),
    path("reports/<int:pk>.<str:fmt>", views.progress_report_download, name="progress-report-download"),
    path("review/<int:pk>/", views.review_update, name="review-update"),
    path("periods/", views.period_list, name="periods"),
    path("periods/new/", views.period_edit, name="period-create"),
    path("periods/<int:pk>/edit/", views.period_edit, name="period-edit"),
    path("periods/<int:pk>/state/", views.period_state, name="period-state"),
    path("preferences/", views.preferences, name="preferences"),
    path("public/", views.PublicInitiativeListView.as_view(), name="public"),
    path("public/initiatives/<str:code>/", views.public_initiative, name="public-initiative"),
    path("public/reports/<int:pk>.<str:fmt>", views.public_report_download, name="public-report-download"),
]

urlpatterns = [
    path("", include((tracker_patterns, "tracker"))),
    path(
        "accounts/password_reset/",
        views.PasswordResetView.as_view(),
        name="password_reset",
    ),
    path("accounts/two-factor/", views.two_factor, name="two-factor"),
    path("accounts/two-factor/verify/", views.two_factor_verify, name="two-factor-verify"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/setlang/", views.set_language, name="set_language"),
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
    # Browsers ask for /favicon.ico whatever the page says.
    path("favicon.ico", views.favicon, name="favicon"),
]

# A database that is briefly unreachable gets a 503 that says so (tracker.views.server_error).
handler500 = "tracker.views.server_error"

# A constant page through the same middleware, for scripts/bench_web.py; off unless BENCHMARK_BASELINE.
if settings.BENCHMARK_BASELINE:
    urlpatterns.append(path("bench/baseline/", views.benchmark_baseline, name="bench-baseline"))
