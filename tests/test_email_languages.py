"""Reminder and review emails read in the recipient's language: Korean, Spanish or English."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core import mail

from tests.conftest import make_person
from tracker import reminders
from tracker.models import ReportingPeriod

pytestmark = pytest.mark.django_db

SEOUL = ZoneInfo("Asia/Seoul")
MEXICO = ZoneInfo("America/Mexico_City")
DUE = datetime.date(2026, 12, 11)


@pytest.fixture
def period(db):
    return ReportingPeriod.objects.create(
        name="2026 Q4", start=datetime.date(2026, 10, 1), end=datetime.date(2026, 12, 31), due_date=DUE
    )


def person(username, role, agency_key, **profile):
    user = make_person(username, role, agency_key, **profile)
    user.date_joined = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)  # before every planned reminder
    user.save()
    return user


def due_day_email(user, at):
    mail.outbox = []
    reminders.sweep(at)
    messages = [
        m for m in mail.outbox if m.to == [user.email] and m.extra_headers["X-Tracker-Reminder"].startswith("due+0")
    ]
    assert messages
    message = messages[0]
    assert message.alternatives[0][1] == "text/html"
    return message, message.body, message.alternatives[0][0]


def test_a_korean_official_gets_the_due_day_reminder_in_korean(period):
    charlie = person("charlie", "official", "kcs", language="ko", email_preference="each")  # KCS leads A-314 only
    message, text, html = due_day_email(charlie, datetime.datetime(2026, 12, 11, 9, 0, tzinfo=SEOUL))
    assert message.subject == "오늘 마감: A-314 현황 보고"
    for body in (text, html):
        assert "Charlie 님께" in body
        assert "관세청의 2026 Q4 기간 이행 현황 보고 마감일입니다."  # the agency by its Korean name in body
        assert "아직 제출되지 않은 현황 보고는 다음과 같습니다:" in body
        assert "2026년 12월 11일" in body
        assert "멕시코–한국 21세기 위원회 이행 점검 시스템" in body
        assert "Dear" not in body and "last day" not in body and "You receive" not in body
    assert "A-314 열기" in html
    assert "항목별 개별 메일 또는 일일 요약 메일 중 수신 방식을 선택하실 수 있습니다:" in text
    assert '<html lang="ko">' in html
    assert "멕시코–한국 위원회 이행 점검 시스템" in html


def test_a_spanish_official_gets_the_due_day_reminder_in_spanish(period):
    alice = person("alice", "official", "se", language="es", email_preference="each")  # SE leads several
    message, text, html = due_day_email(alice, datetime.datetime(2026, 12, 11, 9, 0, tzinfo=MEXICO))
    assert message.subject.startswith("Vence hoy: su actualización de ")
    for body in (text, html):
        assert "Estimado(a) Alice:" in body
        assert "es el último día para que Secretaría de Economía informe sus avances del periodo 2026 Q4." in body
        assert "Aún faltan las siguientes actualizaciones:" in body
        assert "Comisión México–Corea Siglo XXI" in body
        assert "Dear" not in body and "last day" not in body and "You receive" not in body
    assert "Abrir " in html
    assert "Elija si desea recibir un correo por cada asunto o un resumen diario:" in text
    assert '<html lang="es">' in html


def test_an_english_official_gets_the_due_day_reminder_in_english(period):
    bob = person("bob", "official", "kcs", language="en", email_preference="each")
    message, text, html = due_day_email(bob, datetime.datetime(2026, 12, 11, 9, 0, tzinfo=SEOUL))
    assert message.subject == "Due today: your update on A-314"
    for body in (text, html):
        assert "Dear Bob," in body
        assert "is the last day for Korea Customs Service to report its progress for the period 2026 Q4." in body
        assert "These updates are still missing:" in body
        assert "님께" not in body and "Estimado" not in body
    assert "Open A-314" in html


def test_a_returned_update_is_explained_in_spanish(period, make_update):
    alice = person("alice", "official", "se", language="es")
    sec_mx = person("sec_mx", "secretariat", "sre")
    sec_mx.first_name = "Sofía"
    sec_mx.save()
    update = make_update(alice, "A-318", state="returned", reviewer=sec_mx, period=period)
    mail.outbox = []
    reminders.deliver(datetime.datetime.now(datetime.UTC))
    (message,) = [m for m in mail.outbox if m.to == [alice.email]]
    text, html = message.body, message.alternatives[0][0]
    assert message.subject == "Su actualización de A-318 fue devuelta para revisión"
    for body in (text, html):
        assert "Estimado(a) Alice:" in body
        assert (
            "Sofía, de la Secretaría Técnica, le devolvió su actualización para revisión con el siguiente comentario:"
            in body
        )
        assert "Please add the figures." in body  # the reviewer's own words are not translated
        assert "Abra el enlace para corregir la actualización y envíela nuevamente." in body
        assert f"/updates/{update.pk}/edit/" in body
        assert "returned your update" not in body
    assert "Abrir A-318" in html
