"""The administrator's screens: the catalog, the matrix and who owns what.

Every model here keeps an audit history (the "History" button): who changed which field, from what to what.
Ownerships are edited only inside their initiative, where the form can check the whole set at once
(exactly one lead on each side); the standalone ownership list is for finding an agency's responsibilities.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from simple_history.admin import SimpleHistoryAdmin

from tracker.choices import Country, InitiativeKind, OwnershipRole, ReminderState
from tracker.forms import ReportingPeriodForm
from tracker.models import (
    Agency,
    Evidence,
    Initiative,
    Invitation,
    MatrixIssue,
    MatrixResponsibility,
    Mechanism,
    Ownership,
    Profile,
    Reminder,
    ReminderRule,
    Report,
    ReportingPeriod,
    SheetUpload,
    StatusUpdate,
    SweepRun,
    TargetRevision,
)

admin.site.site_header = _("Mexico–Korea Commission tracker")
admin.site.site_title = _("Commission tracker administration")
admin.site.index_title = _("Catalog, matrix and accounts")


class ReadOnly:
    """Rows the tracker writes itself (updates, reminders, sweeps, imports, owners edited on their initiative):
    the admin lists and reads them, never adds or changes them here. `deletable = False` refuses deleting too."""

    deletable = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return self.deletable and super().has_delete_permission(request, obj)


class AuditedAdmin(SimpleHistoryAdmin):
    """An admin whose history page shows each change's author, time and changed fields.

    Saving a page writes only what changed: an initiative whose owners alone were edited keeps its own row (and
    its audit history) untouched, so each change leaves exactly one audit record.
    """

    def save_model(self, request, obj, form, change):
        if change and not form.has_changed():
            return
        super().save_model(request, obj, form, change)


# --- Initiatives ---------------------------------------------------------------------------------


class OwnershipInlineFormSet(forms.BaseInlineFormSet):
    """Checks the owners as a whole: one lead in Mexico, one lead in Korea, no agency twice."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        leads = {Country.MEXICO: 0, Country.KOREA: 0}
        seen = set()
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or not data.get("agency"):
                continue
            agency = data["agency"]
            if agency.pk in seen:
                raise forms.ValidationError(_("%(agency)s is listed twice.") % {"agency": agency})
            seen.add(agency.pk)
            if data.get("role") == OwnershipRole.LEAD:
                leads[agency.country] += 1
        for country, count in leads.items():
            label = Country(country).label
            if count == 0:
                raise forms.ValidationError(
                    _("Every initiative needs a lead agency in %(country)s. Mark one of its agencies as lead.")
                    % {"country": label}
                )
            if count > 1:
                raise forms.ValidationError(
                    _("Only one agency in %(country)s can lead; make the others supporting.") % {"country": label}
                )


class OwnershipInline(admin.TabularInline):
    model = Ownership
    formset = OwnershipInlineFormSet
    fields = ["agency", "role", "source", "matrix_issue"]
    autocomplete_fields = ["agency"]
    extra = 0
    min_num = 2
    verbose_name = _("owner")
    verbose_name_plural = _("owners (one lead in Mexico and one in Korea)")


class TargetRevisionInline(admin.TabularInline):
    model = TargetRevision
    fields = ["target_date", "reason", "created_at"]
    readonly_fields = ["created_at"]
    extra = 0


class LeadAgencyFilter(admin.SimpleListFilter):
    title = _("lead agency")
    parameter_name = "lead"

    def lookups(self, request, model_admin):
        leading = Agency.objects.filter(ownerships__role=OwnershipRole.LEAD).distinct().order_by("country", "name")
        return [(agency.key, f"{agency.get_country_display()}: {agency}") for agency in leading]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(ownerships__agency__key=self.value(), ownerships__role=OwnershipRole.LEAD)
        return queryset


class OwningCountryAgencyFilter(admin.SimpleListFilter):
    """Any agency of one country that owns the initiative, lead or supporting."""

    title = _("owning agency")
    parameter_name = "owner"

    def lookups(self, request, model_admin):
        owning = Agency.objects.filter(ownerships__isnull=False).distinct().order_by("country", "name")
        return [(agency.key, f"{agency.get_country_display()}: {agency}") for agency in owning]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(ownerships__agency__key=self.value()).distinct()
        return queryset


@admin.register(Initiative)
class InitiativeAdmin(AuditedAdmin):
    list_display = ["code", "title", "kind", "parent", "theme", "mechanism_name", "lead_mexico", "lead_korea"]
    list_display_links = ["code", "title"]
    list_filter = [
        "kind",
        "theme",
        ("matrix_issue__mechanism", admin.RelatedOnlyFieldListFilter),
        LeadAgencyFilter,
        OwningCountryAgencyFilter,
        "visibility",
    ]
    search_fields = ["code", "title", "title_es", "title_ko", "quote", "section"]
    autocomplete_fields = ["parent", "matrix_issue"]
    list_select_related = ["parent", "matrix_issue__mechanism"]
    list_per_page = 50
    inlines = [OwnershipInline, TargetRevisionInline]
    readonly_fields = ["report_line"]
    object_history_template = "admin/tracker/initiative/object_history.html"
    fieldsets = [
        (None, {"fields": ["report", "code", "title", "kind", "parent", "theme", "visibility"]}),
        (_("Title in Spanish and Korean"), {"fields": ["title_es", "title_ko"]}),
        (_("Where the report says it"), {"fields": ["section", "paragraph", "report_line", "quote"]}),
        (_("Targets and ownership"), {"fields": ["target_phrase", "baseline_target_date", "matrix_issue"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("ownerships__agency")

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        # The parent drop-down offers strategic initiatives only.
        if request.GET.get("field_name") == "parent":
            queryset = queryset.filter(kind=InitiativeKind.STRATEGIC)
        return queryset, may_have_duplicates

    @admin.display(description=_("High Level Meeting"), ordering="matrix_issue__mechanism__position")
    def mechanism_name(self, obj):
        return obj.matrix_issue.mechanism.name if obj.matrix_issue_id else "—"

    def _lead(self, obj, country):
        for ownership in obj.ownerships.all():
            if ownership.role == OwnershipRole.LEAD and ownership.agency.country == country:
                return ownership.agency.acronym or ownership.agency.name
        return "—"

    @admin.display(description=_("lead in Mexico"))
    def lead_mexico(self, obj):
        return self._lead(obj, Country.MEXICO)

    @admin.display(description=_("lead in Korea"))
    def lead_korea(self, obj):
        return self._lead(obj, Country.KOREA)

    def save_model(self, request, obj, form, change):
        if "quote" in form.changed_data or not change:
            obj.place_in_report()  # the report browser highlights the quote where it now is
        super().save_model(request, obj, form, change)

    def history_view(self, request, object_id, extra_context=None):
        # The owners are edited on this page, so their changes belong in this page's history too.
        ownership_changes = (
            Ownership.history.filter(initiative_id=object_id)
            .select_related("history_user", "agency")
            .order_by("-history_date")
        )
        extra_context = {**(extra_context or {}), "ownership_changes": ownership_changes}
        return super().history_view(request, object_id, extra_context)


# --- Agencies and the matrix ---------------------------------------------------------------------


class AgencyOwnershipInline(admin.TabularInline):
    """The initiatives an agency owns, read-only here: owners are edited on the initiative."""

    model = Ownership
    fields = ["initiative", "role", "source"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = _("responsibilities (edit them on the initiative)")

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("initiative")


@admin.register(Agency)
class AgencyAdmin(AuditedAdmin):
    list_display = ["name", "acronym", "country", "kind", "parent", "initiatives_led", "initiatives_owned"]
    list_filter = ["country", "kind", ("parent", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "name_es", "name_ko", "acronym", "key"]
    autocomplete_fields = ["parent"]
    list_select_related = ["parent"]
    inlines = [AgencyOwnershipInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                led=Count("ownerships", filter=Q(ownerships__role=OwnershipRole.LEAD)),
                owned=Count("ownerships"),
            )
        )

    @admin.display(description=_("leads"), ordering="led")
    def initiatives_led(self, obj):
        return obj.led

    @admin.display(description=_("owns"), ordering="owned")
    def initiatives_owned(self, obj):
        return obj.owned


class MatrixResponsibilityInline(admin.TabularInline):
    model = MatrixResponsibility
    fields = ["agency", "position"]
    autocomplete_fields = ["agency"]
    extra = 0


class MatrixIssueInline(admin.TabularInline):
    model = MatrixIssue
    fields = ["position", "issue", "mexico_text", "korea_text"]
    show_change_link = True
    extra = 0


@admin.register(Mechanism)
class MechanismAdmin(AuditedAdmin):
    list_display = ["name", "kind", "position"]
    inlines = [MatrixIssueInline]


@admin.register(MatrixIssue)
class MatrixIssueAdmin(AuditedAdmin):
    list_display = ["issue", "mechanism", "mexico_text", "korea_text"]
    list_filter = ["mechanism"]
    search_fields = ["issue", "mexico_text", "korea_text", "responsibilities__agency__name"]
    list_select_related = ["mechanism"]
    inlines = [MatrixResponsibilityInline]


@admin.register(Ownership)
class OwnershipAdmin(ReadOnly, AuditedAdmin):
    """Who owns what, across the catalog; change owners on the initiative's page."""

    deletable = False

    list_display = ["initiative", "agency", "country", "role", "source", "matrix_issue"]
    list_filter = ["role", "source", "country", ("agency", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["agency__name", "agency__acronym", "initiative__code", "initiative__title"]
    list_select_related = ["initiative", "agency", "matrix_issue__mechanism"]


@admin.register(Report)
class ReportAdmin(AuditedAdmin):
    list_display = ["title", "date", "language"]
    exclude = ["source_text"]


# --- People and the reporting cycle ----------------------------------------------------------------------


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    autocomplete_fields = ["agency"]
    fields = ["role", "agency", "language", "time_zone", "email_preference"]


admin.site.unregister(User)


@admin.register(User)
class TrackerUserAdmin(UserAdmin, AuditedAdmin):
    """Users and their profiles. Who may do what follows the profile's role (tracker/permissions.py), so Django's
    groups and per-model permissions, which nothing here reads, are not offered."""

    inlines = [ProfileInline]
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        (_("Person"), {"fields": ["first_name", "last_name", "email"]}),
        (_("Access"), {"fields": ["is_active", "is_staff", "is_superuser"]}),
        (_("Dates"), {"fields": ["last_login", "date_joined"]}),
    ]
    list_display = ["username", "email", "first_name", "last_name", "role", "agency", "is_active"]
    list_filter = ["profile__role", "profile__agency__country", "is_active", "is_staff"]
    list_select_related = ["profile__agency"]
    search_fields = ["username", "email", "first_name", "last_name", "profile__agency__name"]

    @admin.display(description=_("role"), ordering="profile__role")
    def role(self, obj):
        return obj.profile.get_role_display() if hasattr(obj, "profile") else "—"

    @admin.display(description=_("agency"), ordering="profile__agency__name")
    def agency(self, obj):
        return obj.profile.agency if hasattr(obj, "profile") else "—"


@admin.register(ReportingPeriod)
class ReportingPeriodAdmin(AuditedAdmin):
    form = ReportingPeriodForm  # the same checks as the secretariat's page: dates in order and in range
    list_display = ["name", "start", "end", "due_date", "state"]
    list_filter = ["state"]


class EvidenceInline(admin.TabularInline):
    model = Evidence
    fields = ["url", "original_name", "content_type", "size", "is_public", "uploaded_by", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(StatusUpdate)
class StatusUpdateAdmin(ReadOnly, AuditedAdmin):
    """Updates are written by officials and reviewed by the secretariat in the tracker itself; the admin
    only reads them (an accepted update is never edited in place)."""

    list_display = ["initiative", "agency", "period", "status", "progress", "review_state", "is_demo", "updated_at"]
    list_filter = ["review_state", "status", "period", "agency__country", "is_demo"]
    search_fields = ["initiative__code", "initiative__title", "agency__name", "summary"]
    list_select_related = ["initiative", "agency", "period"]
    inlines = [EvidenceInline]


# --- Reminders -------------------------------------------------------------------------------------------


@admin.register(ReminderRule)
class ReminderRuleAdmin(AuditedAdmin):
    list_display = ["__str__", "kind", "days", "weekday", "hour", "active"]
    list_editable = ["active"]
    list_filter = ["kind", "active"]


class FailedFirst(admin.SimpleListFilter):
    title = _("needs attention")
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [("failed", _("Failed")), ("retrying", _("Retrying after an error"))]

    def queryset(self, request, queryset):
        if self.value() == "failed":
            return queryset.filter(state=ReminderState.FAILED)
        if self.value() == "retrying":
            return queryset.filter(state=ReminderState.PENDING, attempts__gt=0)
        return queryset


@admin.register(Reminder)
class ReminderAdmin(ReadOnly, admin.ModelAdmin):
    """The reminder log: every email the tracker owed, and what became of it. Read-only."""

    list_display = ["key", "kind", "recipient", "state", "planned_at", "sent_at", "attempts", "last_error"]
    list_filter = [FailedFirst, "state", "kind", "period", ("agency", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["key", "recipient__username", "recipient__email", "message_id"]
    list_select_related = ["recipient"]
    date_hierarchy = "planned_at"


@admin.register(SweepRun)
class SweepRunAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["started_at", "finished_at", "recorded", "sent", "failed"]


# --- Spreadsheet imports ------------------------------------------------------------------------------------


@admin.register(SheetUpload)
class SheetUploadAdmin(ReadOnly, admin.ModelAdmin):
    """The audit of spreadsheet imports: who uploaded which file, and what importing it changed. Read-only."""

    deletable = False

    list_display = ["created_at", "user", "agency", "period", "original_name", "mode", "applied_at"]
    list_display += ["drafts_saved", "submitted"]
    list_filter = ["mode", "period", ("agency", admin.RelatedOnlyFieldListFilter)]
    list_filter += [("applied_at", admin.EmptyFieldListFilter)]
    search_fields = ["original_name", "sha256", "user__username"]
    list_select_related = ["user", "agency", "period"]
    date_hierarchy = "created_at"


# --- Invitations --------------------------------------------------------------------------------------------


@admin.register(Invitation)
class InvitationAdmin(ReadOnly, admin.ModelAdmin):
    """Who was invited, by whom, and whether they opened their account (tracker/invitations.py). Read-only: people
    are invited at /people/; "Send again" mails a new link (the earlier ones stop working)."""

    deletable = False

    list_display = ["user", "invited_by", "created_at", "last_sent_at", "times_sent", "accepted_at"]
    list_filter = [("accepted_at", admin.EmptyFieldListFilter), "user__profile__agency__country"]
    search_fields = ["user__username", "user__email", "user__first_name", "invited_by__username"]
    list_select_related = ["user", "invited_by"]
    date_hierarchy = "created_at"
    actions = ["send_again"]

    @admin.action(description=_("Send again (a new link; the earlier ones stop working)"))
    def send_again(self, request, queryset):
        from tracker import invitations

        sent, refused = 0, []
        for invitation in queryset.select_related("user"):
            try:
                invitations.resend(invitation, by=request.user)
            except invitations.NotInvited as problem:
                refused.append(problem.message)
            else:
                sent += 1
        if sent:
            message = ngettext("%(count)d invitation sent again.", "%(count)d invitations sent again.", sent)
            self.message_user(request, message % {"count": sent}, messages.SUCCESS)
        for message in refused:
            self.message_user(request, message, messages.WARNING)
