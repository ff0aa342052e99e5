"""Read-your-writes: whether projections have handled the event at a position."""

import pytest

from orders.domain import commands as c
from projections import freshness
from projections.runner import catch_up
from tests.factories import product, run
from tests.projections.support import settle

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_position_is_reached_once_the_projection_has_handled_it():
    pid = product()
    position = run(c.ReceiveStock(pid, 4)).position
    assert not freshness.reached(["stock"], position)
    assert not freshness.wait_until(["stock"], position, timeout=0.05)
    settle()
    catch_up(["stock"])
    assert freshness.reached(["stock"], position)
    assert freshness.wait_until(["stock", "stock"], position, timeout=0)
    assert freshness.reflected_position("stock") >= position


def test_an_unknown_position_is_never_reached():
    assert not freshness.reached(["stock"], 10**12)
