"""Production's settings with the benchmark's floor as the URLconf: what ``api_query_floor_rps``
starts gunicorn with (``DJANGO_SETTINGS_MODULE``). Nothing else selects it."""

from .settings import *  # noqa: F403

ROOT_URLCONF = "orders.benchmarks.floor_urls"
