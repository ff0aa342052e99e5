"""Subscribers name the events they handle by each class's declared type name, not by the
codec's registry, so a subscriber module may be imported before the write side registers
the events (``OrdersConfig.ready``): the order in which the apps load cannot break start-up."""

from __future__ import annotations

from dataclasses import dataclass

from orders.domain import DomainEvent
from projections.subscribers import handles


@dataclass(frozen=True)
class NotInTheCodec(DomainEvent):
    EVENT_TYPE = "NotInTheCodec"


def test_a_handler_names_its_events_without_asking_the_codec():
    @handles(NotInTheCodec)
    def on_it(self, event):
        pass

    assert on_it.handles == ("NotInTheCodec",)
