"""The tracker's fixed vocabularies, in one place.

Kept free of models so that the catalog files can be checked without a configured database.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


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
