"""Forms: small, and saying what is wrong in words an official understands."""

from __future__ import annotations

import datetime
from pathlib import PurePath

import filetype
from django import forms
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator, URLValidator
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from tracker.choices import Status
from tracker.models import Evidence, Profile, ProgressReport, ReportingPeriod, StatusUpdate

MAX_EVIDENCE_BYTES = 10 * 1024 * 1024
MAX_FILES_PER_UPDATE = 10

# What evidence may be: PDF, Office documents (Microsoft and OpenDocument) and images, recognised by content.
ALLOWED_EVIDENCE = {
    "application/pdf": {".pdf"},
    "application/msword": {".doc"},
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": {".docx"},
    "application/vnd.ms-excel": {".xls"},
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {".xlsx"},
    "application/vnd.ms-powerpoint": {".ppt"},
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": {".pptx"},
    "application/vnd.oasis.opendocument.text": {".odt"},
    "application/vnd.oasis.opendocument.spreadsheet": {".ods"},
    "application/vnd.oasis.opendocument.presentation": {".odp"},
    "image/jpeg": {".jpg", ".jpeg"},
    "image/png": {".png"},
    "image/gif": {".gif"},
    "image/webp": {".webp"},
}
# Legacy Office files share one container format: any of their names is accepted for any of them.
_LEGACY_OFFICE = {".doc", ".xls", ".ppt"}


def detect_evidence_type(uploaded) -> str | None:
    """The file's type as its content shows it, if it is one we accept and its name agrees; else None."""
    uploaded.seek(0)
    head = uploaded.read(8192)
    uploaded.seek(0)
    kind = filetype.guess(head)
    if kind is None or kind.mime not in ALLOWED_EVIDENCE:
        return None
    suffix = PurePath(uploaded.name).suffix.lower()
    allowed = ALLOWED_EVIDENCE[kind.mime]
    if suffix in allowed or (suffix in _LEGACY_OFFICE and allowed <= _LEGACY_OFFICE):
        return kind.mime
    return None


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field (the pattern from Django's file upload documentation)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single_clean = super().clean
        if isinstance(data, list | tuple):
            return [single_clean(item, initial) for item in data]
        return [single_clean(data, initial)] if data else []


class StatusUpdateForm(forms.ModelForm):
    evidence_links = forms.CharField(
        label=_("Evidence links"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One web address per line, e.g. a press release or an official gazette entry."),
    )
    evidence_files = MultipleFileField(
        label=_("Evidence files"),
        required=False,
        help_text=_("PDF, Word, Excel, PowerPoint, OpenDocument or image files, up to 10 MB each."),
    )
    remove_evidence = forms.ModelMultipleChoiceField(
        label=_("Remove evidence"),
        queryset=Evidence.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Tick what should no longer be attached. To replace a file, tick it and choose the new one."),
    )
    # The version of the update the official opened (StatusUpdate.version): saving over a newer one is refused.
    seen_version = forms.CharField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = StatusUpdate
        fields = ["status", "progress", "summary", "next_steps", "blockers"]
        widgets = {
            "progress": forms.NumberInput(attrs={"min": 0, "max": 100, "step": 1}),
            "summary": forms.Textarea(attrs={"rows": 5}),
            "next_steps": forms.Textarea(attrs={"rows": 3}),
            "blockers": forms.Textarea(attrs={"rows": 3}),
        }
        help_texts = {
            "progress": _("How far the initiative has come on your side, from 0 to 100."),
            "summary": _("What was done this period, in a few sentences the Commission can read."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # No status is preselected: the official chooses one on purpose.
        self.fields["status"].choices = [("", _("Choose a status")), *Status.choices]
        if self.instance.pk:
            self.fields["remove_evidence"].queryset = self.instance.evidence.order_by("created_at")
            self.fields["seen_version"].initial = self.instance.version
        else:
            del self.fields["remove_evidence"]  # nothing is attached to an update not yet saved

    def clean_progress(self):
        progress = self.cleaned_data["progress"]
        if progress is not None and not 0 <= progress <= 100:
            raise forms.ValidationError(_("Progress is a percentage between 0 and 100."))
        return progress

    def clean_evidence_links(self) -> list[str]:
        links = [line.strip() for line in self.cleaned_data["evidence_links"].splitlines() if line.strip()]
        validate = URLValidator(schemes=["http", "https"])
        for link in links:
            try:
                validate(link)
            except forms.ValidationError:
                raise forms.ValidationError(
                    _("“%(link)s” is not a web address. Give each link in full, starting with https://.")
                    % {"link": link[:100]}
                ) from None
            # The database keeps links of up to 500 characters; Django's URL check allows 2,048.
            MaxLengthValidator(Evidence._meta.get_field("url").max_length)(link)
        return links

    def clean_evidence_files(self) -> list[tuple]:
        files = self.cleaned_data["evidence_files"]
        if len(files) > MAX_FILES_PER_UPDATE:
            raise forms.ValidationError(_("Attach at most %(count)d files.") % {"count": MAX_FILES_PER_UPDATE})
        accepted = []
        problems = []
        for uploaded in files:
            if uploaded.size > MAX_EVIDENCE_BYTES:
                problems.append(
                    _("“%(name)s” is %(size)s; files can be at most 10 MB.")
                    % {"name": uploaded.name, "size": filesizeformat(uploaded.size)}
                )
                continue
            content_type = detect_evidence_type(uploaded)
            if content_type is None:
                problems.append(
                    _("“%(name)s” is not a PDF, Office document or image (its content was checked, not only its name).")
                    % {"name": uploaded.name}
                )
                continue
            accepted.append((uploaded, content_type))
        if problems:
            problems.append(_("Nothing was saved yet; the rest of what you typed is kept. Choose the files again."))
            raise forms.ValidationError(problems)
        return accepted


class ReviewForm(forms.Form):
    ACCEPT = "accept"
    RETURN = "return"

    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[(ACCEPT, _("Accept")), (RETURN, _("Return for revision"))],
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Comment to the official"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Required when you return an update: say what should change."),
    )

    # The version of the update the reviewer read (StatusUpdate.version): a decision on a newer one is refused.
    seen_version = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        if data.get("decision") == self.RETURN and not data.get("comment", "").strip():
            self.add_error("comment", _("Say what the official should change: a comment is required to return it."))
        return data


class BulkReviewForm(forms.Form):
    """A decision on several updates of the review queue at once: the ticked ones, or all that the filter shows.

    Each ticked update comes as "id:version" (what the page showed), so that one changed meanwhile is left alone.
    """

    ACCEPT, RETURN = ReviewForm.ACCEPT, ReviewForm.RETURN
    TICKED, FILTER = "ticked", "filter"
    ACTIONS = {"accept": (ACCEPT, TICKED), "return": (RETURN, TICKED), "accept_all": (ACCEPT, FILTER),
               "return_all": (RETURN, FILTER)}  # fmt: skip

    action = forms.ChoiceField(choices=[(name, name) for name in ACTIONS])
    updates = forms.Field(required=False, widget=forms.MultipleHiddenInput)  # "id:version", one per ticked box
    comment = forms.CharField(
        label=_("Comment to the officials"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 1}),
        help_text=_("Required to return updates; sent with each one. Optional when you accept."),
    )

    def clean_updates(self) -> dict[int, str]:
        seen = {}
        for value in self.cleaned_data["updates"] or []:
            pk, _sep, version = str(value).partition(":")
            if pk.isdigit():
                seen[int(pk)] = version
        return seen

    def clean(self):
        data = super().clean()
        decision, scope = self.ACTIONS.get(data.get("action"), (None, None))
        data["decision"], data["scope"] = decision, scope
        if decision == self.RETURN and not data.get("comment", "").strip():
            raise forms.ValidationError(
                _("Say what the officials should change: a comment is required to return updates.")
            )
        return data


class PreferencesForm(forms.ModelForm):
    class Meta:
        model = Profile
        fields = ["language", "time_zone", "email_preference"]
        widgets = {"email_preference": forms.RadioSelect}
        help_texts = {
            "language": _("The language of the pages and of the emails you receive."),
            "time_zone": _("Times are shown, and reminders arrive in the morning, in this zone."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Saving the preferences chooses a language: the profile's "not chosen yet" is not offered again.
        self.fields["language"].required = True
        self.fields["language"].choices = [choice for choice in self.fields["language"].choices if choice[0]]
        if self.instance.language:
            self.initial["language"] = self.instance.language


class ReportingPeriodForm(forms.ModelForm):
    class Meta:
        model = ReportingPeriod
        fields = ["name", "start", "end", "due_date"]
        widgets = {
            "start": forms.DateInput(attrs={"type": "date"}),
            "end": forms.DateInput(attrs={"type": "date"}),
            "due_date": forms.DateInput(attrs={"type": "date"}),
        }
        help_texts = {
            "name": _("For example “2027 Q1”."),
            "due_date": _("Updates are due by the end of this day in each agency's own country."),
        }

    # A period's dates fall in the Commission's century: a date outside is a typing mistake, and at the edges of
    # what a date can hold (9999-12-31) the end of the due day could not even be computed.
    EARLIEST, LATEST = datetime.date(2000, 1, 1), datetime.date(2099, 12, 31)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("start", "end", "due_date"):
            self.fields[name].validators += [MinValueValidator(self.EARLIEST), MaxValueValidator(self.LATEST)]

    def clean(self):
        data = super().clean()
        start, end, due = data.get("start"), data.get("end"), data.get("due_date")
        if start and end and end < start:
            self.add_error("end", _("The period cannot end before it starts."))
        if start and due and due < start:
            self.add_error("due_date", _("The due date cannot come before the period starts."))
        return data


class ProgressReportForm(forms.ModelForm):
    class Meta:
        model = ProgressReport
        fields = ["period", "title"]
        help_texts = {"title": _("For example “Progress report to the Commission, 2026 Q4”.")}


class TwoFactorCodeForm(forms.Form):
    """The six digits an authenticator app shows now."""

    code = forms.CharField(
        label=_("Code from your authenticator app"),
        max_length=10,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )

    def __init__(self, *args, device=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.device = device

    def clean_code(self):
        code = "".join(self.cleaned_data["code"].split())
        if not code.isdigit() or len(code) != 6:
            raise forms.ValidationError(_("Enter the six digits your authenticator app shows."))
        allowed, _why = self.device.verify_is_allowed() if self.device is not None else (False, None)
        if self.device is not None and not allowed:  # django-otp's throttle: each wrong code doubles the wait
            raise forms.ValidationError(_("Too many wrong codes. Wait a few seconds and enter the code shown then."))
        if self.device is None or not self.device.verify_token(code):
            raise forms.ValidationError(_("That code is not right, or it has expired. Enter the code shown now."))
        return code
