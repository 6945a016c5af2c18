from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

from tracker import views

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
]
