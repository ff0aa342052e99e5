"""The read side's management commands: thin wrappers, exact output, clear refusals."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from orders.history_builder import Shop
from projections.models import Checkpoint
from projections.stock import StockProjection
from tests.projections.support import catch_up_all, feed_passed_everything

pytestmark = pytest.mark.django_db(transaction=True)

NAMES = "orders, stock, customers, sales"


def command(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def broken_stock(monkeypatch):
    def broken(self, event):
        raise ValueError("no such shelf")

    monkeypatch.setattr(StockProjection, "product_created", broken)
    return monkeypatch


def test_catch_up_runs_every_subscriber_here_and_says_how_it_went():
    Shop().create_product(stock=1)
    feed_passed_everything()
    out, _ = command("catch_up")
    assert out.splitlines() == [
        "orders: caught up, 0 events handled",
        "stock: caught up, 2 events handled",
        "customers: caught up, 0 events handled",
        "sales: caught up, 0 events handled",
    ]
    assert command("catch_up", "stock")[0] == "stock: caught up, 0 events handled\n"


def test_catch_up_exits_non_zero_when_a_subscriber_fails(broken_stock):
    Shop().create_product()
    feed_passed_everything()
    with pytest.raises(CommandError, match=r"^failed: stock \(see projection_status; retry_projection NAME resumes\)$"):
        command("catch_up", "stock")


@pytest.mark.parametrize("name", ["catch_up", "retry_projection"])
def test_an_unknown_subscriber_is_refused_with_the_valid_names(name):
    with pytest.raises(CommandError, match=f"^unknown subscriber nope; choose from {NAMES}$"):
        command(name, "nope")


def test_projection_status_shows_a_table_of_positions_lag_and_state():
    Shop().create_product(stock=1)
    catch_up_all()
    stock = Checkpoint.objects.get(name="stock").last_position
    width = max(len(str(stock)), len("POSITION"))
    out, _ = command("projection_status")
    assert out.splitlines() == [
        f"NAME       KIND        {'POSITION'.ljust(width)}  PROCESSED  BEHIND  SECONDS  STATE    LAST ERROR",
        f"orders     projection  {'0'.ljust(width)}  0          0       0.0      running",
        f"stock      projection  {str(stock).ljust(width)}  2          0       0.0      running",
        f"customers  projection  {'0'.ljust(width)}  0          0       0.0      running",
        f"sales      projection  {'0'.ljust(width)}  0          0       0.0      running",
    ]


def test_projection_status_exits_non_zero_when_a_subscriber_has_failed(broken_stock):
    Shop().create_product()
    feed_passed_everything()
    with pytest.raises(CommandError):
        command("catch_up", "stock")
    with pytest.raises(CommandError, match=r"^failed: stock \(retry_projection NAME resumes\)$"):
        call_command("projection_status", stdout=(out := io.StringIO()))
    stock = next(line for line in out.getvalue().splitlines() if line.startswith("stock")).split()
    assert stock[:5] + stock[6:] == [
        "stock",
        "projection",
        "0",
        "0",
        "1",
        "failed",
        "ValueError:",
        "no",
        "such",
        "shelf",
    ]


def test_retry_projection_resumes_a_subscriber_once_it_is_fixed(broken_stock):
    Shop().create_product(stock=3)
    feed_passed_everything()
    with pytest.raises(CommandError, match="failed: stock"):
        command("retry_projection", "stock")
    broken_stock.undo()
    assert command("retry_projection", "stock")[0] == "stock: caught up, 2 events handled\n"


def test_rebuild_projections_reports_what_it_rebuilt_with_a_progress_bar():
    Shop().create_product(stock=3)
    catch_up_all()
    out, err = command("rebuild_projections", "stock", "customers")
    assert out.splitlines()[:2] == ["Rebuilt stock from 2 events.", "Rebuilt customers from 0 events."]
    assert out.splitlines()[2].startswith("Done in ")
    assert "] 2/2 events" in err and "events/s" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), f"name the projections to rebuild, or use --all; choose from {NAMES}"),
        (("stock", "--all"), f"name the projections to rebuild, or use --all; choose from {NAMES}"),
        (("stock", "nope"), f"unknown subscriber nope; choose from {NAMES}"),
    ],
)
def test_rebuild_projections_refuses_what_it_cannot_do(args, message):
    with pytest.raises(CommandError, match=f"^{message}$"):
        command("rebuild_projections", *args)
