"""Browser journeys: headless Debian Chromium (``/usr/bin/chromium``; Playwright's own
browser download is not used) against pytest-django's live server. Screenshots are kept
under ``artifacts/screenshots/<test>/``."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings

from tests.browser.pages import CHROMIUM, AdminPages

SCREENSHOTS = settings.BASE_DIR / "artifacts" / "screenshots"


@pytest.fixture
def admin_pages(request: pytest.FixtureRequest, live_server: Any) -> Iterator[AdminPages]:
    """The admin in a fresh browser; skipped with the reason when Chromium is missing."""
    if not CHROMIUM.exists():
        pytest.skip(f"needs Chromium at {CHROMIUM} (apt-get install chromium)")
    shots = SCREENSHOTS / request.node.name
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    pages = AdminPages(live_server.url, shots)
    try:
        pages.start()
        yield pages
    finally:
        pages.close()
