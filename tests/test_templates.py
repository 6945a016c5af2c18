from pathlib import Path

import pytest
from django.conf import settings
from django.template.loader import get_template

TEMPLATES = sorted(
    str(path.relative_to(settings.BASE_DIR / "templates"))
    for path in (settings.BASE_DIR / "templates").rglob("*")
    if path.suffix in {".html", ".txt"}
)


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_template_compiles(name):
    """A broken tag in a rarely sent email must fail here, not in production at 9 a.m. in Seoul."""
    assert get_template(name)


def test_templates_were_found():
    assert len(TEMPLATES) > 30 and Path(settings.BASE_DIR / "templates" / "base.html").exists()
