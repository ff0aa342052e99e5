"""What a production web or worker process refuses to start with.

The owner's credentials can disable the event log's triggers and drop its tables; they
belong to the release step (``make release``) and to maintenance, never beside gunicorn or
a Celery worker, where a compromised process would hand them out with its environment.
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured


def refuse_owner_credentials(process: str) -> None:
    """Stop ``process`` (web, worker, beat) in production when DATABASE_OWNER_URL is set."""
    if os.environ.get("DJANGO_ENV") == "production" and os.environ.get("DATABASE_OWNER_URL"):
        raise ImproperlyConfigured(
            f"DATABASE_OWNER_URL is set in the {process} process's environment: the owner's credentials "
            "belong to the release step (make release), not to web or workers; remove it."
        )
