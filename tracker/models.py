"""The tracker's domain: the report, its bodies and matrix, and the initiatives they own.

Every model an administrator edits keeps an audit history (django-simple-history): who changed what, when.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from tracker.choices import (
    AgencyKind,
    Country,
    InitiativeKind,
    MechanismKind,
    OwnershipRole,
    OwnershipSource,
    Theme,
    Visibility,
)


class Report(models.Model):
    """A document whose recommendations are tracked. This report first; room for a ministry's next one."""

    slug = models.SlugField(unique=True, help_text=_("Short identifier used in exports."))
    title = models.CharField(_("title"), max_length=300)
    date = models.DateField(_("date"), help_text=_("The date the report was handed to the governments."))
    language = models.CharField(_("language"), max_length=10, default="en")
    source_text = models.TextField(_("source text"), help_text=_("The full text of the report."))

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")

    def __str__(self) -> str:
        return self.title


class Agency(models.Model):
    key = models.SlugField(
        _("key"), max_length=60, unique=True, help_text=_("Stable identifier used by the catalog files and exports.")
    )
    country = models.CharField(_("country"), max_length=2, choices=Country.choices)
    name = models.CharField(_("name"), max_length=200, help_text=_("The body's name as the report gives it."))
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
        return f"{self.name} ({self.acronym})" if self.acronym else self.name

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

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="mechanisms")
    key = models.SlugField(_("key"), max_length=60, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=MechanismKind.choices)
    footnote = models.TextField(_("footnote"), blank=True)
    position = models.PositiveIntegerField(_("position"), default=0, help_text=_("Order in the report."))
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("mechanism")
        verbose_name_plural = _("mechanisms")
        ordering = ["position"]

    def __str__(self) -> str:
        return self.name


class MatrixIssue(models.Model):
    """One row of the matrix: an issue and the bodies responsible for it in each country."""

    mechanism = models.ForeignKey(Mechanism, on_delete=models.CASCADE, related_name="issues")
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

    matrix_issue = models.ForeignKey(MatrixIssue, on_delete=models.CASCADE, related_name="responsibilities")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="matrix_responsibilities")
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
        return self.filter(ownerships__agency=agency).distinct()

    def led_by(self, agency: Agency) -> InitiativeQuerySet:
        return self.filter(ownerships__agency=agency, ownerships__role=OwnershipRole.LEAD)


class Initiative(models.Model):
    report = models.ForeignKey(Report, on_delete=models.PROTECT, related_name="initiatives")
    code = models.CharField(
        _("code"),
        max_length=20,
        unique=True,
        help_text=_("Stable code: SI-01 for a strategic initiative, A-042 for an action. Never reuse a code."),
    )
    title = models.CharField(_("title"), max_length=200)
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
        return f"{self.code} {self.title}"

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

    initiative = models.ForeignKey(Initiative, on_delete=models.CASCADE, related_name="target_revisions")
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

    initiative = models.ForeignKey(Initiative, on_delete=models.CASCADE, related_name="ownerships")
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
        ordering = ["initiative", "country", "-role", "id"]
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
