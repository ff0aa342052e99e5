import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

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


@pytest.fixture
def superuser_client():
    """A client of its own, so a test can hold it beside another user's."""
    superuser = Client()
    superuser.force_login(User.objects.create_superuser("root", password="pw"))
    return superuser
