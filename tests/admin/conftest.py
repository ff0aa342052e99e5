import pytest
from django.contrib.auth.models import Group, User

from orders.permissions import AUDITORS, OPERATORS


def member(group: str | None, username: str) -> User:
    user = User.objects.create_user(username, password="pw", is_staff=True)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def auditor_client(client):
    client.force_login(member(AUDITORS, "audrey"))
    return client


@pytest.fixture
def operator_client(client):
    client.force_login(member(OPERATORS, "otto"))
    return client


@pytest.fixture
def outsider_client(client):
    client.force_login(member(None, "nobody"))
    return client
