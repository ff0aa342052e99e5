"""Long streams are snapshotted every SNAPSHOT_EVERY events; snapshots never change a result."""

import pytest

from eventstore.models import Snapshot
from orders import repository
from orders.domain import Order, Product
from orders.domain import commands as c
from tests.factories import order, product, run
from tests.support import delete_snapshots

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_snapshot_is_taken_each_time_a_stream_passes_a_multiple(settings):
    settings.SNAPSHOT_EVERY = 5
    pid = product()
    for _ in range(12):
        run(c.ReceiveStock(pid, 1))
    assert sorted(Snapshot.objects.filter(stream_id=pid).values_list("version", flat=True)) == [5, 10]


def test_loading_with_and_without_snapshots_gives_the_same_state(settings):
    settings.SNAPSHOT_EVERY = 3
    pids = [product(stock=50) for _ in range(4)]
    oid = order(lines=[(pid, 2) for pid in pids])
    run(c.ChangeOrderLineQuantity(oid, pids[0], 5))
    run(c.RemoveOrderLine(oid, pids[1]))
    run(c.PlaceOrder(oid))
    run(c.ConfirmOrder(oid))
    with_snapshots = repository.load(Order, oid).state_dict(), repository.load(Product, pids[0]).state_dict()
    past = repository.load(Order, oid, to_version=4).state_dict()
    assert Snapshot.objects.filter(stream_id=oid).exists()

    delete_snapshots()
    assert (repository.load(Order, oid).state_dict(), repository.load(Product, pids[0]).state_dict()) == with_snapshots
    assert repository.load(Order, oid, to_version=4).state_dict() == past


def test_a_snapshot_of_an_older_state_shape_is_ignored(settings, monkeypatch):
    settings.SNAPSHOT_EVERY = 2
    pid = product()
    run(c.ReceiveStock(pid, 7))
    monkeypatch.setattr(Product, "SNAPSHOT_SCHEMA", Product.SNAPSHOT_SCHEMA + 1)
    assert repository.load(Product, pid).on_hand == 7
