"""The Celery app. Tasks are thin wrappers around services in the apps."""

import os

from celery import Celery
from celery.signals import beat_init, worker_init
from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from .guards import refuse_owner_credentials
from .observability import install_celery_propagation

app = Celery("chronicle")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
install_celery_propagation()


@worker_init.connect
def _refuse_owner_in_worker(**kwargs: object) -> None:
    _refuse_owner("worker")


@beat_init.connect
def _refuse_owner_in_beat(**kwargs: object) -> None:
    _refuse_owner("beat")


def _refuse_owner(process: str) -> None:
    try:
        refuse_owner_credentials(process)
    except ImproperlyConfigured as error:
        # Celery logs an exception a signal handler raises and carries on; this one must stop it.
        raise SystemExit(f"ImproperlyConfigured: {error}") from None
