"""The tracker's domain: the report, its bodies and matrix, and the initiatives they own.

Every model an administrator edits keeps an audit history (django-simple-history): who changed what, when.
"""

from __future__ import annotations

import datetime
import uuid
from pathlib import PurePath
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Exists, F, OuterRef, Q, Value
from django.db.models.functions import Coalesce, NullIf
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from simple_history import register as register_history
from simple_history.models import HistoricalRecords
from timezone_field import TimeZoneField

from tracker.choices import (
    COUNTRY_LANGUAGES,
    COUNTRY_TIME_ZONES,
    IN_PROGRESS_STATES,
    AgencyKind,
    Country,
    EmailPreference,
    InitiativeKind,
    MechanismKind,
    OwnershipRole,
    OwnershipSource,
    PeriodState,
    ReminderKind,
    ReminderState,
    ReportState,
    ReviewState,
    Role,
    Status,
    Theme,
    Visibility,
    Weekday,
)
from tracker.report_text import ReportText


def local_today(country: str, now: datetime.datetime | None = None) -> datetime.date:
    """Today's date where the country's agencies work: a due date ends at midnight there."""
    return (now or timezone.now()).astimezone(ZoneInfo(COUNTRY_TIME_ZONES[country])).date()


class Report(models.Model):
    """A document whose recommendations are tracked. This report first; room for a ministry's next one."""

    slug = models.SlugField(_("slug"), unique=True, help_text=_("Short identifier used in exports."))
    title = models.CharField(_("title"), max_length=300)
    date = models.DateField(_("date"), help_text=_("The date the report was handed to the governments."))
    language = models.CharField(_("language"), max_length=10, default="en")
    source_text = models.TextField(_("source text"), help_text=_("The full text of the report."))

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")

    def __str__(self) -> str:
        return self.title


def in_language(instance, field: str, language: str | None = None) -> str:
    """`field` in the active (or given) language where the catalog has a translation, else the report's English.

    The catalog's titles and names may carry Spanish and Korean versions (`title_es`, `name_ko`, ...); the
    report's quotes never do, since the English text is what the two governments received.
    """
    language = (language or translation.get_language() or settings.LANGUAGE_CODE).split("-")[0]
    if language != "en":
        translated = getattr(instance, f"{field}_{language}", "")
        if translated:
            return translated
    return getattr(instance, field)


def in_language_sql(path: str, field: str):
    """`in_language` as a database expression: `path`'s `field` in the active language where the catalog has a
    translation, else the report's English (for annotations, sorting and exports)."""
    language = (translation.get_language() or settings.LANGUAGE_CODE).split("-")[0]
    if language in ("es", "ko"):  # the languages the catalog has columns for (`title_es`, `name_ko`, ...)
        return Coalesce(NullIf(F(f"{path}__{field}_{language}"), Value("")), F(f"{path}__{field}"))
    return F(f"{path}__{field}")


class Agency(models.Model):
    key = models.SlugField(
        _("key"), max_length=60, unique=True, help_text=_("Stable identifier used by the catalog files and exports.")
    )
    country = models.CharField(_("country"), max_length=2, choices=Country.choices)
    name = models.CharField(_("name"), max_length=200, help_text=_("The body's name as the report gives it."))
    name_es = models.CharField(
        _("name in Spanish"), max_length=200, blank=True, help_text=_("Its official name, if any.")
    )
    name_ko = models.CharField(
        _("name in Korean"), max_length=200, blank=True, help_text=_("Its official name, if any.")
    )
    acronym = models.CharField(_("acronym"), max_length=30, blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=AgencyKind.choices, default=AgencyKind.AGENCY)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent body"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
        help_text=_("The ministry a sub-agency belongs to, e.g. the Korean Intellectual Property Office under MOCIE."),
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("agency")
        verbose_name_plural = _("agencies")
        ordering = ["country", "name"]

    def __str__(self) -> str:
        return f"{self.display_name} ({self.acronym})" if self.acronym else self.display_name

    @property
    def display_name(self) -> str:
        return in_language(self, "name")

    def clean(self) -> None:
        if self.parent_id and self.parent.country != self.country:
            raise ValidationError({"parent": _("A sub-agency belongs to a body of its own country.")})
        ancestor = self.parent
        while ancestor is not None:
            if ancestor.pk == self.pk:
                raise ValidationError({"parent": _("A body cannot be its own parent, directly or indirectly.")})
            ancestor = ancestor.parent


class Mechanism(models.Model):
    """General Coordination or one High Level Meeting of the responsibility matrix."""

    report = models.ForeignKey(Report, verbose_name=_("report"), on_delete=models.CASCADE, related_name="mechanisms")
    key = models.SlugField(_("key"), max_length=60, unique=True)
    name = models.CharField(_("name"), max_length=200)
    name_es = models.CharField(_("name in Spanish"), max_length=200, blank=True)
    name_ko = models.CharField(_("name in Korean"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=MechanismKind.choices)
    footnote = models.TextField(_("footnote"), blank=True)
    position = models.PositiveIntegerField(_("position"), default=0, help_text=_("Order in the report."))
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("mechanism")
        verbose_name_plural = _("mechanisms")
        ordering = ["position"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return in_language(self, "name")


class MatrixIssue(models.Model):
    """One row of the matrix: an issue and the bodies responsible for it in each country."""

    mechanism = models.ForeignKey(
        Mechanism, verbose_name=_("mechanism"), on_delete=models.CASCADE, related_name="issues"
    )
    key = models.SlugField(_("key"), max_length=60, unique=True)
    issue = models.CharField(_("issue"), max_length=200)
    position = models.PositiveIntegerField(_("position"), default=0, help_text=_("Order within the mechanism."))
    mexico_text = models.TextField(_("responsible in Mexico (report text)"))
    korea_text = models.TextField(_("responsible in Korea (report text)"))
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("matrix issue")
        verbose_name_plural = _("matrix issues")
        ordering = ["mechanism__position", "position"]

    def __str__(self) -> str:
        return f"{self.mechanism.name}: {self.issue}"


class MatrixResponsibility(models.Model):
    """A body named in a matrix cell, in the order the report names it (the first one leads)."""

    matrix_issue = models.ForeignKey(
        MatrixIssue, verbose_name=_("matrix row"), on_delete=models.CASCADE, related_name="responsibilities"
    )
    agency = models.ForeignKey(
        Agency, verbose_name=_("agency"), on_delete=models.PROTECT, related_name="matrix_responsibilities"
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("matrix responsibility")
        verbose_name_plural = _("matrix responsibilities")
        ordering = ["matrix_issue", "agency__country", "position"]
        constraints = [
            models.UniqueConstraint(fields=["matrix_issue", "agency"], name="one_cell_entry_per_agency"),
        ]

    def __str__(self) -> str:
        return f"{self.matrix_issue.issue}: {self.agency}"


class InitiativeQuerySet(models.QuerySet):
    def strategic(self) -> InitiativeQuerySet:
        return self.filter(kind=InitiativeKind.STRATEGIC)

    def owned_by(self, agency: Agency) -> InitiativeQuerySet:
        return self.filter(Exists(Ownership.objects.filter(initiative=OuterRef("pk"), agency=agency)))

    def led_by(self, agency: Agency) -> InitiativeQuerySet:
        return self.filter(
            Exists(Ownership.objects.filter(initiative=OuterRef("pk"), agency=agency, role=OwnershipRole.LEAD))
        )

    def overdue(self, country: str | None = None, now: datetime.datetime | None = None) -> InitiativeQuerySet:
        """Initiatives whose lead agency (on `country`'s side, or on either) owes an update that is late.

        An update is late when its period is open, the due date has ended in the agency's country, and the
        agency has neither submitted nor had accepted an update for that period.
        """
        sides = [country] if country else Country.values
        today = {side: local_today(side, now) for side in sides}
        # One query for both sides: the periods due before the later of their two dates; each side keeps its own.
        due = list(ReportingPeriod.objects.open().filter(due_date__lt=max(today.values())))
        condition = Q(pk__in=[])
        for side in sides:
            for period in [period for period in due if period.due_date < today[side]]:
                done = StatusUpdate.objects.filter(
                    initiative=OuterRef("initiative"),
                    agency=OuterRef("agency"),
                    period=period,
                    review_state__in=[ReviewState.SUBMITTED, ReviewState.ACCEPTED],
                )
                missing = Ownership.objects.filter(
                    initiative=OuterRef("pk"), country=side, role=OwnershipRole.LEAD
                ).exclude(Exists(done))
                condition |= Exists(missing)
        return self.filter(condition)


class Initiative(models.Model):
    report = models.ForeignKey(Report, verbose_name=_("report"), on_delete=models.PROTECT, related_name="initiatives")
    code = models.CharField(
        _("code"),
        max_length=20,
        unique=True,
        help_text=_("Stable code: SI-01 for a strategic initiative, A-042 for an action. Never reuse a code."),
    )
    title = models.CharField(_("title"), max_length=200, help_text=_("In English, the report's language."))
    title_es = models.CharField(_("title in Spanish"), max_length=200, blank=True)
    title_ko = models.CharField(_("title in Korean"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=InitiativeKind.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("strategic initiative"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="actions",
        limit_choices_to={"kind": InitiativeKind.STRATEGIC},
        help_text=_("For an action: the strategic initiative it serves."),
    )
    theme = models.CharField(_("theme"), max_length=20, choices=Theme.choices)
    section = models.CharField(_("section"), max_length=300, help_text=_("Where in the report it comes from."))
    paragraph = models.CharField(
        _("paragraph"),
        max_length=20,
        help_text=_("The report's paragraph number, or the paragraph's position in its section."),
    )
    report_line = models.PositiveIntegerField(
        _("line in the report"), null=True, blank=True, help_text=_("Set by load_report from the quote.")
    )
    quote = models.TextField(_("quote"), help_text=_("The report's own words, verbatim."))
    # Where the quote sits in the report's text (character offsets), for the report browser; set from the quote.
    quote_start = models.PositiveIntegerField(_("quote start"), null=True, blank=True, editable=False)
    quote_end = models.PositiveIntegerField(_("quote end"), null=True, blank=True, editable=False)
    target_phrase = models.CharField(
        _("target in the report"),
        max_length=200,
        blank=True,
        help_text=_('The report\'s own target phrase, e.g. "2005" or "as soon as it is practicable".'),
    )
    baseline_target_date = models.DateField(
        _("baseline target date"),
        null=True,
        blank=True,
        help_text=_("The date the governments agreed to meet; revisions are recorded below."),
    )
    matrix_issue = models.ForeignKey(
        MatrixIssue,
        verbose_name=_("matrix row"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="initiatives",
        help_text=_("The row of the responsibility matrix whose bodies own this initiative, where one fits."),
    )
    visibility = models.CharField(_("visibility"), max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC)
    position = models.PositiveIntegerField(_("position"), default=0, help_text=_("Order in the report."))
    history = HistoricalRecords()

    objects = InitiativeQuerySet.as_manager()

    class Meta:
        verbose_name = _("initiative")
        verbose_name_plural = _("initiatives")
        ordering = ["position", "code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind=InitiativeKind.STRATEGIC, parent__isnull=True)
                | Q(kind=InitiativeKind.ACTION, parent__isnull=False),
                name="action_has_parent_strategic_has_none",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.display_title}"

    def get_absolute_url(self) -> str:
        return reverse("tracker:initiative-detail", kwargs={"code": self.code})

    @property
    def display_title(self) -> str:
        return in_language(self, "title")

    def place_in_report(self, text: ReportText | None = None) -> None:
        """Find the quote in the report's text and remember where it is (nothing, if the report lacks it)."""
        location = (text or ReportText(self.report.source_text)).locate(self.quote)
        self.report_line = location.first_line if location else None
        self.quote_start = location.start if location else None
        self.quote_end = location.end if location else None

    def clean(self) -> None:
        if self.kind == InitiativeKind.STRATEGIC and self.parent_id:
            raise ValidationError({"parent": _("A strategic initiative has no parent.")})
        if self.kind == InitiativeKind.ACTION:
            if not self.parent_id:
                raise ValidationError({"parent": _("An action must name the strategic initiative it serves.")})
            if self.parent.kind != InitiativeKind.STRATEGIC:
                raise ValidationError({"parent": _("The parent must be a strategic initiative, not an action.")})

    @property
    def mechanism(self) -> Mechanism | None:
        return self.matrix_issue.mechanism if self.matrix_issue_id else None


class TargetRevision(models.Model):
    """A change to an initiative's target date, with the reason for it."""

    initiative = models.ForeignKey(
        Initiative, verbose_name=_("initiative"), on_delete=models.CASCADE, related_name="target_revisions"
    )
    target_date = models.DateField(_("new target date"))
    reason = models.TextField(_("reason"))
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("target date revision")
        verbose_name_plural = _("target date revisions")
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.initiative.code} → {self.target_date}"


class Ownership(models.Model):
    """An agency's responsibility for an initiative. Each initiative has exactly one lead per country."""

    initiative = models.ForeignKey(
        Initiative, verbose_name=_("initiative"), on_delete=models.CASCADE, related_name="ownerships"
    )
    agency = models.ForeignKey(Agency, verbose_name=_("agency"), on_delete=models.PROTECT, related_name="ownerships")
    # The agency's country, copied on save so the database itself can hold "one lead per country".
    country = models.CharField(_("country"), max_length=2, choices=Country.choices, editable=False)
    role = models.CharField(_("role"), max_length=20, choices=OwnershipRole.choices)
    source = models.CharField(
        _("source"),
        max_length=20,
        choices=OwnershipSource.choices,
        default=OwnershipSource.MANUAL,
        help_text=_("Why this agency owns the initiative."),
    )
    matrix_issue = models.ForeignKey(
        MatrixIssue,
        verbose_name=_("matrix row"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("For an ownership taken from the matrix: the row it came from."),
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("ownership")
        verbose_name_plural = _("ownerships")
        ordering = ["initiative", "country", "role", "id"]  # the lead ("lead" < "supporting") first
        constraints = [
            models.UniqueConstraint(fields=["initiative", "agency"], name="one_ownership_per_agency"),
            models.UniqueConstraint(
                fields=["initiative", "country"],
                condition=Q(role=OwnershipRole.LEAD),
                name="one_lead_per_country",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.initiative.code}: {self.agency} ({self.get_role_display()})"

    def save(self, *args, **kwargs) -> None:
        self.country = self.agency.country
        super().save(*args, **kwargs)


# --- People -----------------------------------------------------------------------------------------------


class Profile(models.Model):
    """What the tracker knows about a user beyond the login: agency, role, language, time zone."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="profile"
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.OFFICIAL)
    agency = models.ForeignKey(
        Agency,
        verbose_name=_("agency"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
        help_text=_("An official reports for this agency; a secretariat member belongs to its country's secretariat."),
    )
    language = models.CharField(
        _("preferred language"),
        max_length=10,
        choices=settings.LANGUAGES,
        blank=True,
        default="",
        help_text=_(
            "Blank until chosen: the pages follow the browser's language and the first sign-in records it; emails "
            "sent before that are in the language of the agency's country."
        ),
    )
    time_zone = TimeZoneField(_("time zone"), default="America/Mexico_City", choices_display="WITH_GMT_OFFSET")
    email_preference = models.CharField(
        _("reminder emails"), max_length=10, choices=EmailPreference.choices, default=EmailPreference.DIGEST
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()})"

    @property
    def country(self) -> str | None:
        return self.agency.country if self.agency_id else None

    @property
    def email_language(self) -> str:
        """The language of the emails to this person: the one they chose (or their browser's, recorded at their
        first sign-in), else their country's (an official invited but not yet signed in), else English."""
        if self.language:
            return self.language
        return COUNTRY_LANGUAGES.get(self.country, settings.LANGUAGE_CODE)

    def clean(self) -> None:
        if self.role in (Role.OFFICIAL, Role.SECRETARIAT) and not self.agency_id:
            raise ValidationError({"agency": _("An official or a secretariat member must belong to an agency.")})


# --- The reporting cycle ----------------------------------------------------------------------------------


class ReportingPeriodQuerySet(models.QuerySet):
    def open(self) -> ReportingPeriodQuerySet:
        return self.filter(state=PeriodState.OPEN)


class ReportingPeriod(models.Model):
    """A round of reporting, e.g. "2026 Q4": every lead agency owes an update per initiative by the due date."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    start = models.DateField(_("start"))
    end = models.DateField(_("end"))
    due_date = models.DateField(
        _("due date"), help_text=_("Updates are due by the end of this day in the reporting agency's country.")
    )
    state = models.CharField(_("state"), max_length=10, choices=PeriodState.choices, default=PeriodState.OPEN)
    # Since when the period is open (None while closed): a reminder planned before it could not be sent, so sending
    # it at the first sweep after is on time, not late (tracker.reminders).
    opened_at = models.DateTimeField(_("open since"), null=True, blank=True, editable=False)
    history = HistoricalRecords()

    objects = ReportingPeriodQuerySet.as_manager()

    class Meta:
        verbose_name = _("reporting period")
        verbose_name_plural = _("reporting periods")
        ordering = ["-due_date"]
        constraints = [
            models.CheckConstraint(condition=Q(start__lte=models.F("end")), name="period_starts_before_it_ends"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        if self.state == PeriodState.OPEN and self.opened_at is None:
            self.opened_at = timezone.now()
        elif self.state != PeriodState.OPEN:
            self.opened_at = None
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "opened_at"}
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if self.start and self.end and self.start > self.end:
            raise ValidationError({"end": _("The period cannot end before it starts.")})


class StatusUpdateQuerySet(models.QuerySet):
    def in_progress(self) -> StatusUpdateQuerySet:
        return self.filter(review_state__in=IN_PROGRESS_STATES)

    def awaiting_review(self) -> StatusUpdateQuerySet:
        return self.filter(review_state=ReviewState.SUBMITTED)


class StatusUpdate(models.Model):
    """An agency's report on one initiative for one period. Accepted updates are never edited in place."""

    initiative = models.ForeignKey(
        Initiative, verbose_name=_("initiative"), on_delete=models.PROTECT, related_name="updates"
    )
    agency = models.ForeignKey(
        Agency, verbose_name=_("reporting agency"), on_delete=models.PROTECT, related_name="updates"
    )
    period = models.ForeignKey(
        ReportingPeriod, verbose_name=_("period"), on_delete=models.PROTECT, related_name="updates"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("author"), on_delete=models.PROTECT, related_name="status_updates"
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices)
    progress = models.PositiveSmallIntegerField(
        _("progress (%)"), validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    summary = models.TextField(_("summary of progress"))
    next_steps = models.TextField(_("next steps"), blank=True)
    blockers = models.TextField(_("blockers"), blank=True)
    review_state = models.CharField(
        _("review state"), max_length=20, choices=ReviewState.choices, default=ReviewState.DRAFT
    )
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    # The first submission, kept through returns and resubmissions: reporting compliance is judged on it.
    first_submitted_at = models.DateTimeField(_("first submitted at"), null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewed by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reviewed_updates",
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    review_comment = models.TextField(_("reviewer's comment"), blank=True)
    is_demo = models.BooleanField(_("demo data"), default=False, help_text=_("Created by seed_demo."))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    history = HistoricalRecords()

    objects = StatusUpdateQuerySet.as_manager()

    class Meta:
        verbose_name = _("status update")
        verbose_name_plural = _("status updates")
        ordering = ["-updated_at"]
        constraints = [
            # One update in the making per initiative, agency and period: a second click cannot fork it.
            models.UniqueConstraint(
                fields=["initiative", "agency", "period"],
                condition=Q(review_state__in=["draft", "submitted", "returned"]),
                name="one_update_in_progress",
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="progress_at_most_100"),
        ]
        indexes = [
            # The review queue and the home pages look updates up by state, oldest submission first (the id breaks
            # ties, so that the first page is read from the index and stops there, with no sort of the rest).
            models.Index(fields=["review_state", "submitted_at", "id"], name="update_review_queue"),
            models.Index(fields=["agency", "period", "review_state"], name="update_agency_period"),
            # "What happened lately" on the secretariat's home: the newest first, read from the index's end.
            models.Index(fields=["-updated_at"], name="update_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.initiative.code} · {self.agency} · {self.period}"

    @property
    def is_editable(self) -> bool:
        return self.review_state in (ReviewState.DRAFT, ReviewState.RETURNED)

    @property
    def version(self) -> str:
        """What a form, a spreadsheet row or a review page saw of the update: it changes with every save, so
        that `tracker.actions` can refuse a write made on an older version instead of overwriting a newer one."""
        return f"{self.updated_at:%Y%m%d%H%M%S%f}" if self.updated_at else ""


def evidence_path(instance: Evidence, filename: str) -> str:
    """A random name under evidence/: nothing about the upload's own name reaches the file system."""
    suffix = PurePath(filename).suffix.lower()[:10]
    return f"evidence/{timezone.now():%Y/%m}/{uuid.uuid4().hex}{suffix}"


class Evidence(models.Model):
    """A link or a file that backs an update. Private unless marked public."""

    update = models.ForeignKey(
        StatusUpdate, verbose_name=_("update"), on_delete=models.CASCADE, related_name="evidence"
    )
    url = models.URLField(_("link"), max_length=500, blank=True)
    file = models.FileField(_("file"), upload_to=evidence_path, blank=True)
    original_name = models.CharField(_("file name"), max_length=255, blank=True)
    content_type = models.CharField(_("content type"), max_length=120, blank=True)
    size = models.PositiveIntegerField(_("size in bytes"), default=0)
    is_public = models.BooleanField(
        _("public"), default=False, help_text=_("Public evidence may be shown with the accepted status to everyone.")
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("added at"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(url="") & ~Q(file="")) | (~Q(url="") & Q(file="")), name="evidence_is_link_or_file"
            ),
        ]

    def __str__(self) -> str:
        return self.original_name or self.url


class CurrentStatus(models.Model):
    """The accepted update that is an initiative's current status on one side (Mexico or Korea).

    Only a pointer: status and progress are read from the update itself, and `accept_update` is the one
    place that moves it.
    """

    initiative = models.ForeignKey(
        Initiative, verbose_name=_("initiative"), on_delete=models.CASCADE, related_name="current_statuses"
    )
    country = models.CharField(_("country"), max_length=2, choices=Country.choices)
    update = models.OneToOneField(StatusUpdate, verbose_name=_("update"), on_delete=models.PROTECT, related_name="+")
    # Copied from the update so that the list can filter and sort by status without a join per row.
    status = models.CharField(_("status"), max_length=20, choices=Status.choices)
    progress = models.PositiveSmallIntegerField(_("progress (%)"))

    class Meta:
        verbose_name = _("current status")
        verbose_name_plural = _("current statuses")
        constraints = [
            models.UniqueConstraint(fields=["initiative", "country"], name="one_current_status_per_side"),
        ]

    def __str__(self) -> str:
        return f"{self.initiative.code} {self.country}: {self.get_status_display()}"


# Accounts are audited too (who created, changed or deactivated whom); never the password hash.
register_history(User, app="tracker", excluded_fields=["password", "last_login"])


# --- Reminders ----------------------------------------------------------------------------------------


class ReminderRule(models.Model):
    """One rung of the reminder ladder, editable by an admin without a deploy.

    Officials are reminded `days` days from the due date (negative: before; 0: on the day; positive: after);
    an escalation goes to the agency's country's secretariat `days` after the due date; the weekly digest
    goes to each secretariat on `weekday`. Every reminder is planned for `hour` o'clock in the recipient's
    own time zone, so it arrives in the morning in Mexico City and in Seoul alike.
    """

    kind = models.CharField(
        _("kind"),
        max_length=20,
        choices=[
            (k.value, k.label)
            for k in (
                ReminderKind.UPCOMING,
                ReminderKind.DUE,
                ReminderKind.OVERDUE,
                ReminderKind.ESCALATION,
                ReminderKind.WEEKLY_DIGEST,
            )
        ],
    )
    days = models.SmallIntegerField(
        _("days from the due date"),
        default=0,
        help_text=_("Negative before the due date, 0 on the day, positive after. Not used by the weekly digest."),
    )
    weekday = models.PositiveSmallIntegerField(
        _("weekday"), choices=Weekday.choices, null=True, blank=True, help_text=_("The weekly digest only.")
    )
    hour = models.PositiveSmallIntegerField(
        _("local hour"),
        default=9,
        validators=[MaxValueValidator(23)],
        help_text=_("Hour of the day, in the recipient's time zone, the reminder is planned for."),
    )
    active = models.BooleanField(_("active"), default=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("reminder rule")
        verbose_name_plural = _("reminder rules")
        ordering = ["kind", "days"]

    def __str__(self) -> str:
        if self.kind == ReminderKind.WEEKLY_DIGEST:
            return f"{self.get_kind_display()}: {self.get_weekday_display()} {self.hour}:00"
        return f"{self.get_kind_display()}: {self.days:+d} d, {self.hour}:00"

    def clean(self) -> None:
        if self.kind == ReminderKind.WEEKLY_DIGEST and self.weekday is None:
            raise ValidationError({"weekday": _("Choose the day the weekly digest is sent.")})
        if self.kind == ReminderKind.UPCOMING and self.days >= 0:
            raise ValidationError({"days": _("An upcoming reminder comes before the due date: use a negative number.")})
        if self.kind in (ReminderKind.OVERDUE, ReminderKind.ESCALATION) and self.days <= 0:
            raise ValidationError({"days": _("This reminder comes after the due date: use a positive number.")})


class Reminder(models.Model):
    """The outbox and the delivery log: one row per email the tracker owes someone.

    `key` names what the email is about (kind, recipient, period, and the initiative, agency, day or
    review it concerns); it is unique, so a reminder is recorded once however many sweeps see it due.
    """

    key = models.CharField(_("key"), max_length=200, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=ReminderKind.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recipient"), on_delete=models.CASCADE, related_name="reminders"
    )
    period = models.ForeignKey(
        ReportingPeriod, verbose_name=_("period"), null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    initiative = models.ForeignKey(
        Initiative, verbose_name=_("initiative"), null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    agency = models.ForeignKey(
        Agency, verbose_name=_("agency"), null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    update = models.ForeignKey(
        StatusUpdate, verbose_name=_("update"), null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    planned_at = models.DateTimeField(_("planned for"))
    state = models.CharField(_("state"), max_length=12, choices=ReminderState.choices, default=ReminderState.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    claimed_by = models.CharField(_("claimed by"), max_length=64, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("reminder")
        verbose_name_plural = _("reminders")
        ordering = ["-planned_at"]
        indexes = [
            # The sweep's claim: pending rows whose time has come.
            models.Index(fields=["state", "next_attempt_at"], name="reminder_claim"),
            # Cancelling the rest of a ladder when the update arrives.
            models.Index(fields=["initiative", "agency", "period", "state"], name="reminder_obligation"),
        ]

    def __str__(self) -> str:
        return self.key


class SweepRun(models.Model):
    """When the reminder sweep last ran and what it did: for /healthz and the admin."""

    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    recorded = models.PositiveIntegerField(_("reminders recorded"), default=0)
    sent = models.PositiveIntegerField(_("emails sent"), default=0)
    failed = models.PositiveIntegerField(_("failures"), default=0)

    class Meta:
        verbose_name = _("reminder sweep")
        verbose_name_plural = _("reminder sweeps")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M}"


# --- Progress reports ---------------------------------------------------------------------------------


class ProgressReport(models.Model):
    """A progress report for a period. A draft shows live figures; freezing stores a snapshot that later
    edits and accepted updates do not change; a frozen report can be published. What a report contains is
    decided in `tracker/reports.py`."""

    period = models.ForeignKey(
        ReportingPeriod, verbose_name=_("period"), on_delete=models.PROTECT, related_name="progress_reports"
    )
    title = models.CharField(_("title"), max_length=200)
    state = models.CharField(_("state"), max_length=10, choices=ReportState.choices, default=ReportState.DRAFT)
    snapshot = models.JSONField(_("snapshot"), null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    frozen_at = models.DateTimeField(_("frozen at"), null=True, blank=True)
    frozen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("frozen by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("published by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    history = HistoricalRecords(excluded_fields=["snapshot"])

    class Meta:
        verbose_name = _("progress report")
        verbose_name_plural = _("progress reports")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("tracker:progress-report", kwargs={"pk": self.pk})


class FiguresVersion(models.Model):
    """One row whose value changes with every write that can change a figure (tracker/figures.py): cached
    figures are kept under it, so a cached dashboard is never older than the last accepted update."""

    value = models.BigIntegerField(_("version"), default=0)

    class Meta:
        verbose_name = _("figures version")
        verbose_name_plural = _("figures versions")

    def __str__(self) -> str:
        return str(self.value)


# --- Spreadsheet imports ----------------------------------------------------------------------------------


def sheet_upload_path(instance: SheetUpload, filename: str) -> str:
    """Under imports/, named by the upload's id: nothing about the file's own name reaches the file system."""
    return f"imports/{timezone.now():%Y/%m}/{instance.pk}"


class SheetUpload(models.Model):
    """A spreadsheet an official uploaded to report on the period's initiatives (tracker/sheets.py), and what
    importing it changed: the audit of imports.

    The file is kept as received, in a private file under MEDIA_ROOT like evidence files (not in the database):
    it is read again for every preview and at confirmation, the backups already carry MEDIA_ROOT, and a row of a
    few hundred bytes keeps the table cheap to list however large the files were.
    """

    class Mode(models.TextChoices):
        DRAFT = "draft", _("Save as drafts")
        SUBMIT = "submit", _("Submit for review")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"), on_delete=models.PROTECT, related_name="+"
    )
    agency = models.ForeignKey(Agency, verbose_name=_("agency"), on_delete=models.PROTECT, related_name="+")
    period = models.ForeignKey(ReportingPeriod, verbose_name=_("period"), on_delete=models.PROTECT, related_name="+")
    file = models.FileField(_("file"), upload_to=sheet_upload_path)
    original_name = models.CharField(_("file name"), max_length=255)
    size = models.PositiveIntegerField(_("size in bytes"))
    sha256 = models.CharField(_("SHA-256"), max_length=64, help_text=_("Identifies the same file uploaded again."))
    mode = models.CharField(_("mode"), max_length=10, choices=Mode.choices, default=Mode.DRAFT)
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)
    applied_at = models.DateTimeField(_("imported at"), null=True, blank=True)
    drafts_saved = models.PositiveIntegerField(_("drafts saved"), default=0)
    submitted = models.PositiveIntegerField(_("updates submitted"), default=0)

    class Meta:
        verbose_name = _("spreadsheet upload")
        verbose_name_plural = _("spreadsheet uploads")
        ordering = ["-created_at"]
        indexes = [
            # "This file was already imported on ...": the agency's applied uploads of the same file.
            models.Index(fields=["agency", "sha256"], name="sheet_upload_same_file"),
        ]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.user}, {self.created_at:%Y-%m-%d %H:%M})"


# --- Invitations ------------------------------------------------------------------------------------------


class Invitation(models.Model):
    """An account made for someone by the admin or a secretariat, waiting for its owner to set a password
    (tracker/invitations.py). The account is inactive until then; the email with the link is a row of the outbox
    (`Reminder`, kind "invitation"), one per sending. No link is stored: each is made when its email is."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="invitation"
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("invited by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("invited at"), default=timezone.now)
    last_sent_at = models.DateTimeField(
        _("last sent at"), default=timezone.now, help_text=_("The latest link is valid for 7 days from this time.")
    )
    times_sent = models.PositiveSmallIntegerField(
        _("times sent"), default=1, help_text=_("Sending the invitation again makes the earlier links void.")
    )
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    # The SHA-256 of the link that set the password: the same link opened again is told it was used. A used link
    # can never set a password again anyway (its token depended on the password it replaced).
    accepted_link = models.CharField(_("link used"), max_length=64, blank=True, editable=False)
    history = HistoricalRecords(excluded_fields=["accepted_link"])

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-last_sent_at"]

    def __str__(self) -> str:
        return str(self.user)
