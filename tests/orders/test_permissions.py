"""Operators may issue every command, Auditors none; refusals come before any loading."""

import dataclasses
import typing
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission, User

from eventstore.models import Event
from orders import bus
from orders.context import CommandContext
from orders.domain import Address, Money
from orders.domain.commands import ALL_COMMANDS, ReceiveStock
from orders.errors import NotFound, NotPermitted
from orders.models import command_codename
from orders.permissions import AUDITORS, OPERATORS, PermissionsBackend
from orders.tokens import token_authenticate, token_issue
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
    assert len(commands) == len(ALL_COMMANDS) and commands <= operators and not commands & auditors
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


def test_a_users_permissions_are_djangos_read_in_one_query_once_a_request(django_assert_num_queries):
    """Their own and their groups', as Django's model backend has them; superusers all,
    inactive users none; one query, then kept on the user (one per request)."""
    direct = member_of(AUDITORS)
    direct.user_permissions.add(Permission.objects.get(codename=command_codename(ReceiveStock)))
    superuser = User.objects.create_superuser(f"root-{uuid4().hex[:6]}")
    inactive = member_of(OPERATORS)
    inactive.is_active = False
    inactive.save()
    users = [direct, member_of(OPERATORS), member_of(None), superuser, inactive]
    for user in users:
        user = User.objects.get(pk=user.pk)
        with django_assert_num_queries(1 if user.is_active else 0):
            ours = PermissionsBackend().get_all_permissions(user)
            again = PermissionsBackend().get_all_permissions(user)
        assert ours == again == ModelBackend().get_all_permissions(User.objects.get(pk=user.pk))
    assert f"orders.{command_codename(ReceiveStock)}" in PermissionsBackend().get_all_permissions(direct)


def test_a_tokens_lookup_brings_its_users_permissions_along(django_assert_num_queries):
    """The API's permission checks then need no query of their own."""
    direct = member_of(AUDITORS)
    direct.user_permissions.add(Permission.objects.get(codename=command_codename(ReceiveStock)))
    superuser = User.objects.create_superuser(f"root-{uuid4().hex[:6]}")
    for user in (direct, member_of(OPERATORS), member_of(None), superuser):
        secret = token_issue(user=user)[1]
        token_authenticate(secret)  # the first use of the minute notes it
        token = token_authenticate(secret)
        expected = ModelBackend().get_all_permissions(User.objects.get(pk=user.pk))
        with django_assert_num_queries(0 if not user.is_superuser else 1):
            assert token.user.get_all_permissions() == expected
