"""The tracker's fixed vocabularies, in one place.

Kept free of models so that the catalog files can be checked without a configured database.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Country(models.TextChoices):
    MEXICO = "MX", _("Mexico")
    KOREA = "KR", _("Korea")


class AgencyKind(models.TextChoices):
    MINISTRY = "ministry", _("Ministry or secretariat")
    AGENCY = "agency", _("Government agency")
    LEGISLATURE = "legislature", _("Legislature")
    JUDICIAL = "judicial", _("Attorney general or judiciary")
    BANK = "bank", _("Development or trade bank")
    RESEARCH = "research", _("Research institute or academy")
    UNIVERSITY = "university", _("University")
    BUSINESS = "business", _("Business body")
    FOUNDATION = "foundation", _("Foundation or civil society body")
    MISSION = "mission", _("Embassy or diplomatic mission")


class MechanismKind(models.TextChoices):
    COORDINATION = "coordination", _("General coordination")
    HIGH_LEVEL_MEETING = "hlm", _("High Level Meeting")


class InitiativeKind(models.TextChoices):
    STRATEGIC = "strategic", _("Strategic initiative")
    ACTION = "action", _("Action")


class Theme(models.TextChoices):
    PARTNERSHIP = "partnership", _("Strategic partnership and dialogue")
    POLITICAL = "political", _("Political and security cooperation")
    TRADE = "trade", _("Trade, investment and business")
    FINANCE = "finance", _("Financial cooperation")
    INDUSTRY = "industry", _("Industry, science and technology")
    ICT = "ict", _("Information and communication technology")
    ENVIRONMENT = "environment", _("Environment and energy")
    CONNECTIVITY = "connectivity", _("Transport, logistics and tourism")
    CULTURE = "culture", _("Culture, education and people-to-people exchange")
    DEVELOPMENT = "development", _("Development cooperation")


class OwnershipRole(models.TextChoices):
    LEAD = "lead", _("Lead")
    SUPPORTING = "supporting", _("Supporting")


class OwnershipSource(models.TextChoices):
    """Why an agency owns an initiative: the rule that assigned it."""

    MATRIX = "matrix", _("Matrix row")
    NAMED = "named", _("Named in the report text")
    DEFAULT = "default", _("General Coordination (default)")
    MANUAL = "manual", _("Assigned by an administrator")


class Visibility(models.TextChoices):
    PUBLIC = "public", _("Public")
    INTERNAL = "internal", _("Internal")


class Role(models.TextChoices):
    OFFICIAL = "official", _("Official")
    SECRETARIAT = "secretariat", _("Technical Secretariat")
    ADMIN = "admin", _("Administrator")


class EmailPreference(models.TextChoices):
    EACH = "each", _("One email per item")
    DIGEST = "digest", _("A daily digest")


class Status(models.TextChoices):
    NOT_STARTED = "not_started", _("Not started")
    ON_TRACK = "on_track", _("On track")
    AT_RISK = "at_risk", _("At risk")
    BLOCKED = "blocked", _("Blocked")
    COMPLETED = "completed", _("Completed")
    DISCONTINUED = "discontinued", _("Discontinued")


class ReviewState(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    ACCEPTED = "accepted", _("Accepted")
    RETURNED = "returned", _("Returned for revision")


class PeriodState(models.TextChoices):
    OPEN = "open", pgettext_lazy("a reporting period's state", "Open")
    CLOSED = "closed", _("Closed")


# The review states of an update still being worked on (not yet accepted).
IN_PROGRESS_STATES = (ReviewState.DRAFT, ReviewState.SUBMITTED, ReviewState.RETURNED)


# Where each country's working day is counted: due dates end at midnight here.
COUNTRY_TIME_ZONES = {Country.MEXICO: "America/Mexico_City", Country.KOREA: "Asia/Seoul"}
# The language a person of each country reads until they choose one (emails before their first sign-in).
COUNTRY_LANGUAGES = {Country.MEXICO: "es", Country.KOREA: "ko"}


class ReminderKind(models.TextChoices):
    """What an email is about. The first five follow the ladder; the next two follow a review; the last invites a
    new user."""

    UPCOMING = "upcoming", _("Upcoming deadline")
    DUE = "due", _("Due today")
    OVERDUE = "overdue", _("Overdue")
    ESCALATION = "escalation", _("Escalation to the secretariat")
    WEEKLY_DIGEST = "weekly_digest", _("Weekly digest for the secretariat")
    DAILY_DIGEST = "daily_digest", _("Daily digest for an official")
    RETURNED = "returned", _("Update returned for revision")
    ACCEPTED = "accepted", _("Update accepted")
    INVITATION = "invitation", _("Invitation to the tracker")


class ReminderState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled (the update arrived)")


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class ReportState(models.TextChoices):
    DRAFT = "draft", _("Draft (live figures)")
    FROZEN = "frozen", _("Frozen")
    PUBLISHED = "published", _("Published")
