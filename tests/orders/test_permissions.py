"""Operators may issue every command, Auditors none; refusals come before any loading."""

import dataclasses
import typing
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from django.contrib.auth.models import Group, User

from eventstore.models import Event
from orders import bus
from orders.context import CommandContext
from orders.domain import Address, Money
from orders.domain.commands import ALL_COMMANDS, ReceiveStock
from orders.errors import NotFound, NotPermitted
from orders.models import command_codename
from orders.permissions import AUDITORS, OPERATORS
from tests.factories import address, member_of, product

pytestmark = pytest.mark.django_db(transaction=True)

SAMPLES = {
    UUID: uuid4,
    str: lambda: "x",
    int: lambda: 1,
    Money: lambda: Money(Decimal("1.00"), "EUR"),
    Address: address,
}


def sample(command_type):
    """The command with made-up values: ids that exist nowhere."""
    hints = typing.get_type_hints(command_type)
    values = {}
    for field in dataclasses.fields(command_type):
        if field.kw_only or field.default is not dataclasses.MISSING:
            continue
        hint = hints[field.name]
        hint = next((a for a in typing.get_args(hint) if a is not type(None)), hint)
        values[field.name] = SAMPLES[hint]()
    return command_type(**values)


def context(user):
    return CommandContext.for_user(user, source="admin")


@pytest.mark.parametrize("command_type", ALL_COMMANDS, ids=lambda t: t.__name__)
def test_an_auditor_is_refused_every_command_before_anything_is_loaded(command_type):
    with pytest.raises(NotPermitted, match=command_type.__name__):
        bus.dispatch(sample(command_type), context(member_of(AUDITORS)))
    assert not Event.objects.exists()


def test_groups_hold_the_right_permissions():
    operators = set(Group.objects.get(name=OPERATORS).permissions.values_list("codename", flat=True))
    auditors = set(Group.objects.get(name=AUDITORS).permissions.values_list("codename", flat=True))
    commands = {command_codename(t) for t in ALL_COMMANDS}
    assert len(commands) == 24 and commands <= operators and not commands & auditors
    assert {"view_history", "view_event"} <= auditors <= operators


def test_operators_and_superusers_may_issue_commands_others_may_not():
    pid = product()
    assert bus.dispatch(ReceiveStock(pid, 1), context(member_of(OPERATORS))).version == 2
    boss = User.objects.create_superuser("boss", password="pw")
    with pytest.raises(NotFound):  # allowed, and then the made-up product is not found
        bus.dispatch(sample(ReceiveStock), context(boss))
    nobody = User.objects.create_user("nobody", password="pw")
    retired = member_of(OPERATORS)
    retired.is_active = False
    for user in (nobody, retired):
        with pytest.raises(NotPermitted):
            bus.dispatch(ReceiveStock(pid, 1), context(user))
    assert Event.objects.filter(stream_id=pid).count() == 2
