"""Rebuilds without downtime: readers keep the old read models until the new ones are
complete, the swap is atomic, and the projection goes on from where the rebuild stopped."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from projections import rebuild as rebuilding
from projections.models import Checkpoint, ProductStock
from projections.rebuild import RebuildError, rebuild
from projections.runner import catch_up
from projections.stock import StockProjection
from tests.projections.support import (
    a_bit_of_everything,
    catch_up_all,
    projections,
    read_models,
    rebuilt_snapshot,
    snapshot,
)
from tests.support import run_threads

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def story():
    story = a_bit_of_everything()
    catch_up_all()
    return story


@pytest.fixture
def shouting_names(monkeypatch):
    """A new version of the stock projection that writes product names in capitals."""
    created = StockProjection.product_created

    def product_created(self, event):
        created(self, event)
        self.products[event.stream_id].name = event.data["name"].upper()

    monkeypatch.setattr(StockProjection, "product_created", product_created)


def names() -> list[str]:
    return sorted(ProductStock.objects.values_list("name", flat=True))


def test_readers_see_the_old_read_models_until_the_new_ones_are_swapped_in(story, shouting_names):
    before = snapshot()
    seen_during = []

    def between_pages(done, total):
        seen_during.append(run_threads(lambda i: snapshot(), 1)[0])
        if len(seen_during) == 2:  # the shop goes on meanwhile, and so does the live projection
            story.shop.receive_stock(story.mug, 5)
            catch_up_all()

    rebuild(projections(), progress=between_pages, page_size=5)

    assert len(seen_during) > 10 and seen_during[0] == before
    for seen in seen_during:  # every row, as the old version wrote them
        assert sorted(product["name"] for product in seen["ProductStock"]) == ["Cap", "Mug", "Poster"]
        assert len(seen["OrderSummary"]) == len(before["OrderSummary"])
    assert names() == ["CAP", "MUG", "POSTER"]
    assert ProductStock.objects.get(id=story.mug).on_hand == 7 + 5


def test_the_projection_goes_on_from_where_the_rebuild_stopped(story, shouting_names):
    rebuild(projections())
    story.shop.receive_stock(story.mug, 1)
    story.shop.create_product("HAT-1", "Hat")
    catch_up_all()
    assert names() == ["CAP", "HAT", "MUG", "POSTER"]
    assert ProductStock.objects.get(id=story.mug).on_hand == 8
    incremental = snapshot()
    assert rebuilt_snapshot() == incremental


def test_the_checkpoint_moves_with_the_swap(story):
    before = Checkpoint.objects.get(name="stock")
    rebuild([StockProjection])
    after = Checkpoint.objects.get(name="stock")
    assert after.rebuilt_at is not None and after.events_processed == before.events_processed
    assert (after.last_position, after.state) == (before.last_position, "running")


def test_the_swapped_tables_have_exactly_the_schema_the_migrations_made(story):
    def schema():
        with connection.cursor() as cursor:
            return {
                model._meta.db_table: connection.introspection.get_constraints(cursor, model._meta.db_table)
                for model in read_models()
            }

    before = schema()
    rebuild(projections())
    assert schema() == before
    assert not [name for name in connection.introspection.table_names() if name.endswith("__rebuild")]


def test_rows_written_before_the_end_of_the_replay_are_updated_in_place(story, monkeypatch):
    before = snapshot()
    monkeypatch.setattr(rebuilding, "MAX_ROWS_IN_MEMORY", 1)  # a flush after nearly every page
    rebuild(projections(), page_size=5)
    assert snapshot() == before


@pytest.mark.postgres
def test_the_shadow_tables_are_indexed_after_their_first_rows_are_loaded(story):
    def shadow_indexes() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_indexes WHERE tablename LIKE %s", ["%\\_\\_rebuild"])
            return cursor.fetchone()[0]

    while_loading = []
    rebuild(projections(), progress=lambda done, total: while_loading.append(shadow_indexes()), page_size=5)
    assert len(while_loading) > 10 and set(while_loading) == {0}


def test_a_handler_that_fails_stops_the_rebuild_and_leaves_the_read_models_alone(story, monkeypatch):
    before = snapshot()

    def broken(self, event):
        raise ValueError("this version has a bug")

    monkeypatch.setattr(StockProjection, "stock_reserved", broken)
    with pytest.raises(CommandError, match="rebuild failed, the read models are unchanged: ValueError: this version"):
        call_command("rebuild_projections", "stock")
    assert snapshot() == before
    assert not [name for name in connection.introspection.table_names() if name.endswith("__rebuild")]


def test_a_second_rebuild_of_a_projection_is_refused_while_one_runs(story):
    refused = []

    def between_pages(done, total):
        if not refused:
            refused.append(run_threads(lambda i: _rebuild_stock(), 1)[0])

    rebuild([StockProjection], progress=between_pages, page_size=5)
    assert refused == ["a rebuild of stock is already running"]


def _rebuild_stock() -> str:
    try:
        rebuild([StockProjection])
    except RebuildError as error:
        return str(error)
    return "not refused"


def test_the_swap_waits_its_turn_while_writers_and_the_live_projection_carry_on(story, monkeypatch):
    """Orders keep coming and a worker keeps catching up while the rebuild runs; in the end
    the read models hold every event exactly once."""
    monkeypatch.setattr(rebuilding, "SWAP_ATTEMPTS", 50)
    shop, done = story.shop, []

    def work(i: int) -> None:
        if i == 0:
            for _ in range(15):
                shop.order(story.grace, {story.mug: 1})
            done.append(True)
        elif i == 1:
            while not done:
                catch_up()  # busy while the swap holds the projection
        else:
            rebuild(projections(), page_size=7)

    run_threads(work, 3)
    catch_up_all()
    incremental = snapshot()
    assert rebuilt_snapshot() == incremental
    assert ProductStock.objects.get(id=story.mug).on_hand == 0  # 7 shipped, 8 rejected
