"""Page helpers for the browser journeys: one method per thing a person does in the admin.

Why a thread of its own: Playwright's sync API runs an asyncio event loop in the thread
that starts it, and Django refuses ORM calls in a thread with a running event loop
(``SynchronousOnlyOperation``). Setting ``DJANGO_ALLOW_ASYNC_UNSAFE`` would silence that
check for the whole test process, including the cases it exists to catch. Instead the
browser lives on one worker thread (Playwright objects belong to the thread that made
them) and every helper marked ``@in_browser`` is run there and waited for. The test's own
thread never touches Playwright and keeps the ORM: it prepares users and data, runs the
projections, and checks the database between steps; the live server answers the browser
from its own thread and connection.

To extend a journey, add a method with ``@in_browser`` that drives ``self.page`` and ends
with ``self.screenshot(...)``. The back office's commands need no helper of their own:
``create`` and ``issue`` fill any command's form from its field names.

Commits do not wake the projections in tests, so after a command the entity page the
browser lands on may still say "Still updating". The test's thread then catches the
projections up, and ``entity_state`` reloads the page and reads what it shows now.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

from django.utils.text import slugify
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
# Longest wait for one step (a page load and what it shows), in seconds.
STEP_TIMEOUT = 60
T = TypeVar("T")
# The back office's entity pages: /admin/orders/<kind>/<id>/.
ENTITY_URL = re.compile(r"/admin/orders/(?P<kind>\w+)/(?P<id>[0-9a-f-]{36})/")


def in_browser(method: Callable[..., T]) -> Callable[..., T]:
    """Run this helper on the browser's thread and wait for its result (or exception)."""

    @functools.wraps(method)
    def run(self: BrowserSession, *args: Any, **kwargs: Any) -> T:
        return self.thread.submit(method, self, *args, **kwargs).result(timeout=STEP_TIMEOUT)

    return run


class BrowserSession:
    """Headless Debian Chromium on a thread of its own, pointed at the live server."""

    def __init__(self, base_url: str, screenshots: Path) -> None:
        self.base_url = base_url.rstrip("/")
        self.screenshots = screenshots
        self.shots = 0
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="playwright")
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self.page: Page

    @in_browser
    def start(self) -> None:
        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        self.page = self._browser.new_page(base_url=self.base_url, viewport={"width": 1280, "height": 900})
        self.page.set_default_timeout(STEP_TIMEOUT * 1000 // 2)

    @in_browser
    def stop(self) -> None:
        if self._browser is not None:
            self._browser.close()
        if self._playwright is not None:
            self._playwright.stop()

    def close(self) -> None:
        try:
            self.stop()
        finally:
            self.thread.shutdown(wait=True)

    def screenshot(self, name: str) -> Path:
        """Keep what the page looks like now (on the browser's thread: call it from helpers)."""
        self.shots += 1
        path = self.screenshots / f"{self.shots:02}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


class AdminPages(BrowserSession):
    """The Django admin, as an Operator or an Auditor uses it."""

    @in_browser
    def log_in(self, username: str, password: str) -> None:
        page = self.page
        page.goto("/admin/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("input[type=submit]")
        expect(page.locator("#user-tools")).to_contain_text(username)

    @in_browser
    def open_dashboard(self) -> int:
        """The admin index; returns how many days the sales chart shows."""
        page = self.page
        page.goto("/admin/")
        chart = page.get_by_role("img", name=re.compile(r"per day"))
        expect(chart.first).to_be_visible()
        expect(page.locator("#dashboard-health")).to_be_visible()
        self.screenshot("dashboard")
        return chart.first.locator("rect.bar").count()

    @in_browser
    def today_orders(self, currency: str) -> str:
        return self.page.locator(f'#dashboard-today tr[data-currency="{currency}"] td.orders').inner_text()

    @in_browser
    def open_event_browser(self) -> list[str]:
        """The event log, from the admin index; returns the event types listed."""
        page = self.page
        self._open_list("Events")
        expect(page.locator("#result_list")).to_be_visible()
        self.screenshot("event-browser")
        return page.locator("#result_list td.field-event_type").all_inner_texts()

    @in_browser
    def open_history(self, stream_id: UUID) -> list[str]:
        """An entity's history, found by searching the event browser for its id; returns
        the event types of its versions, oldest first."""
        page = self.page
        page.fill("#searchbar", str(stream_id))
        page.press("#searchbar", "Enter")
        page.locator("#result_list td.field-stream a").first.click()
        return self._history()

    @in_browser
    def open_entity_history(self) -> list[str]:
        """From the back office's entity page shown, its History; returns the event types
        of its versions, oldest first."""
        self.page.locator(".object-tools").get_by_role("link", name="History", exact=True).click()
        return self._history()

    def _history(self) -> list[str]:
        page = self.page
        expect(page.locator("h1")).to_contain_text("History of ")
        self.screenshot("history")
        return page.locator(".chronicle-timeline summary strong").all_inner_texts()

    @in_browser
    def changes_at(self, version: int) -> dict[str, tuple[str, str]]:
        """On the history shown, the entry of ``version`` opened (kept as a screenshot);
        returns what it changed, label to (before, after)."""
        entry = self.page.locator(f"#v{version} details")
        entry.locator("summary").click()
        table = entry.locator("table.chronicle-changes")
        expect(table).to_be_visible()
        self.screenshot(f"history-v{version}")
        changes = {}
        for row in table.locator("tbody tr").all():
            before, after = row.locator("td").all_inner_texts()
            changes[row.locator("th").inner_text()] = (before, after)
        return changes

    @in_browser
    def heading(self) -> str:
        """The title of the page shown."""
        return self.page.locator("h1").inner_text()

    @in_browser
    def entity_id(self) -> str:
        """The id a history or time-travel page shows beneath its title ("Order id …")."""
        return self.page.locator(".chronicle-entity-id").inner_text()

    @in_browser
    def past_state(self) -> dict[str, str]:
        """The state the time-travel page shows, label to value."""
        rows = self.page.locator("table.chronicle-state-table tr").all()
        return {row.locator("th").inner_text(): row.locator("td").inner_text() for row in rows}

    @in_browser
    def travel_to_version(self, version: int) -> str:
        """From the history, the time-travel page moved to ``version``; returns its heading."""
        page = self.page
        page.get_by_role("link", name="Time travel").click()
        page.fill("#version", str(version))
        page.get_by_role("button", name="Show this version").click()
        heading = page.locator("h2").filter(has_text=f"As of version {version}")
        expect(heading).to_be_visible()
        self.screenshot(f"time-travel-v{version}")
        return heading.inner_text()

    @in_browser
    def open_projections(self) -> dict[str, str]:
        """The projections page, from the dashboard's health panel; returns each
        subscriber's state."""
        page = self.page
        page.goto("/admin/")
        page.locator("#dashboard-health h2 a").click()
        expect(page.locator("h1")).to_have_text("Projections")
        self.screenshot("projections")
        rows = page.locator("tr[data-subscriber]")
        return {row.get_attribute("data-subscriber"): row.get_attribute("data-state") for row in rows.all()}

    @in_browser
    def retry_projection(self, name: str) -> str:
        """On the projections page (a superuser's), Retry ``name`` and confirm; returns the
        message the page answers with."""
        page = self.page
        page.locator(f'tr[data-subscriber="{name}"]').get_by_role("link", name="Retry").click()
        self.screenshot(f"retry-{name}-confirm")
        page.get_by_role("button", name=f"Yes, retry {name}").click()
        expect(page.locator("h1")).to_have_text("Projections")
        self.screenshot(f"retry-{name}-done")
        return page.locator("ul.messagelist li").first.inner_text()

    @in_browser
    def start_rebuild(self, name: str) -> str:
        """On the projections page (a superuser's), Rebuild ``name`` and confirm; with a
        worker doing it, wait until the page, reloading itself, shows its progress past the
        first page of events; returns that progress ("1,000 of 5,205 events (19%)")."""
        page = self.page
        page.locator(f'tr[data-subscriber="{name}"]').get_by_role("link", name="Rebuild").click()
        self.screenshot(f"rebuild-{name}-confirm")
        page.get_by_role("button", name=f"Yes, rebuild {name}").click()
        expect(page.locator("h1")).to_have_text("Projections")
        row = page.locator(f'#rebuilds-running tr[data-rebuild="{name}"]')
        expect(row.locator("td.rate")).to_contain_text("events/s", timeout=STEP_TIMEOUT * 1000 // 2)
        page.wait_for_load_state()
        self.screenshot(f"rebuild-{name}-in-progress")
        return row.locator("td.progress .text").inner_text()

    @in_browser
    def rebuild_outcome(self, name: str) -> str:
        """The projections page, reloading itself, once no rebuild runs any more; returns
        how the last rebuild of ``name`` ended ("done")."""
        page = self.page
        expect(page.locator("#no-rebuild")).to_be_visible(timeout=STEP_TIMEOUT * 1000 // 2)
        page.locator("#recent-rebuilds summary").click()
        self.screenshot(f"rebuild-{name}-ended")
        return page.locator(f'#recent-rebuilds tr[data-rebuild="{name}"]').first.get_attribute("data-state")

    # --- The back office ----------------------------------------------------------------

    @in_browser
    def create(self, entities: str, command: str, **inputs: object) -> UUID:
        """From the admin index, the list of ``entities`` ("Customers"), its ``command``
        link ("Register customer"), the form filled with ``inputs`` and sent; returns the
        id of the new entity, whose page the browser is on."""
        self._open_list(entities)
        self.page.locator(".object-tools").get_by_role("link", name=command, exact=True).click()
        return self._send(command, inputs)

    @in_browser
    def open_entity(self, entities: str, row: str) -> dict[str, str]:
        """From the admin index, the list of ``entities``, the entity whose row links as
        ``row``; returns its state as ``entity_state`` does."""
        self._open_list(entities)
        self.page.locator("#result_list").get_by_role("link", name=row, exact=True).click()
        return self._state()

    @in_browser
    def entity_state(self) -> dict[str, str]:
        """The entity page shown, reloaded as the read models now have it; returns its
        state table (heading to text)."""
        self.page.reload()
        return self._state()

    @in_browser
    def issue(self, command: str, **inputs: object) -> UUID:
        """On the entity page shown, the ``command`` button, its form filled with
        ``inputs`` and sent; returns the id of the entity whose page the browser lands on
        (a new order's, from a customer's page)."""
        self.page.locator("#content-main").get_by_role("link", name=command, exact=True).click()
        return self._send(command, inputs)

    def _open_list(self, name: str) -> None:
        """From the admin index, the list called ``name`` ("Customers", "Events")."""
        self.page.goto("/admin/")
        self.page.locator("#content-main").get_by_role("link", name=name, exact=True).click()

    def _state(self) -> dict[str, str]:
        """The entity page as it is now (never "Still updating"), kept as a screenshot."""
        page = self.page
        version = page.locator("#content-main > p.help").filter(has_text="last event at position")
        expect(version).to_be_visible()
        expect(page.get_by_text("Still updating")).to_have_count(0)
        kind, _ = self._entity()
        self.screenshot(f"{kind}-v{version.inner_text().split()[1]}")
        rows = page.locator("table.backoffice-state tr").all()
        return {row.locator("th").inner_text(): row.locator("td").inner_text() for row in rows}

    def _send(self, command: str, inputs: dict[str, object]) -> UUID:
        """Fill the command's form (fields by name: ``id_<name>``), keep it as a
        screenshot, send it; fails with the form's refusal if there is one."""
        page = self.page
        for name, value in inputs.items():
            field = page.locator(f"#id_{name}")
            if field.evaluate("element => element.tagName") == "SELECT":
                field.select_option(str(value))
            else:
                field.fill(str(value))
        self.screenshot(slugify(command))
        page.locator("input[name=_issue]").click()
        outcome = page.locator("ul.messagelist li.success, ul.messagelist li.error, p.errornote").first
        expect(outcome).to_be_visible()
        if "success" not in (outcome.get_attribute("class") or ""):
            self.screenshot(f"{slugify(command)}-refused")
            raise AssertionError(f"{command} was refused: {outcome.inner_text()}")
        return UUID(self._entity()[1])

    def _entity(self) -> tuple[str, str]:
        """The kind and id of the back office's entity page shown."""
        match = ENTITY_URL.search(self.page.url)
        assert match is not None, f"not on an entity page: {self.page.url}"
        return match["kind"], match["id"]
