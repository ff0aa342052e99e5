"""Chronicle settings, read from the environment.

With nothing set, Chronicle runs embedded: SQLite (WAL, busy timeout, IMMEDIATE write
transactions) and Celery tasks run eagerly after commit. ``DATABASE_URL`` switches to
PostgreSQL (with Django's connection pool), ``CELERY_BROKER_URL`` or ``REDIS_URL`` to real
workers. ``DJANGO_ENV=production`` turns missing secrets into a start-up error and enables
the settings that ``manage.py check --deploy`` asks for. The README lists every variable.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from pathlib import Path
from typing import overload

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


@overload
def env(name: str, default: str) -> str: ...
@overload
def env(name: str, default: str | None = None) -> str | None: ...
def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool) -> bool:
    value = env(name)
    if value is None:
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}")


def env_int(name: str, default: int) -> int:
    value = env(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = env(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DJANGO_ENV = env("DJANGO_ENV", "development")
if DJANGO_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"DJANGO_ENV must be 'development' or 'production', not {DJANGO_ENV!r}")
PRODUCTION = DJANGO_ENV == "production"


def secret(name: str, dev_default: str, *, min_length: int = 32) -> str:
    """A secret from the environment; in production it must be set and long enough."""
    value = env(name)
    if value is None:
        if PRODUCTION:
            raise ImproperlyConfigured(f"{name} must be set when DJANGO_ENV=production")
        return dev_default
    if PRODUCTION and len(value) < min_length:
        raise ImproperlyConfigured(f"{name} must be at least {min_length} characters long")
    return value


def ed25519_key(name: str, value: str) -> str:
    """``value`` if it is the base64 of 32 bytes (an Ed25519 key), else a start-up error.
    The message never repeats the value: it may be a private key."""
    try:
        raw = base64.b64decode(value, validate=True)
    except binascii.Error:
        raw = b""
    if len(raw) != 32:
        raise ImproperlyConfigured(f"{name} must be the base64 of a 32-byte Ed25519 key")
    return value


SECRET_KEY = secret("SECRET_KEY", "django-insecure-chronicle-development-key-never-use-in-production", min_length=50)
DEBUG = env_bool("DEBUG", not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when DJANGO_ENV=production")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DJANGO_ENV=production")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "config.apps.ChronicleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "eventstore",
    "orders",
    "projections",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.observability.RequestContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "config.routers.ReplicaReadsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

# --- Database ---------------------------------------------------------------------------

DATABASE_URL = env("DATABASE_URL")
if PRODUCTION and DATABASE_URL is None:
    raise ImproperlyConfigured("DATABASE_URL must be set when DJANGO_ENV=production")

# Every transaction holds back the event feed's horizon (see eventstore.store), so an
# application connection may not sit idle inside a transaction for long.
IDLE_IN_TRANSACTION_TIMEOUT_MS = env_int("DB_IDLE_IN_TRANSACTION_TIMEOUT_MS", 30_000)

if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_URL must be a postgres:// URL (or unset for SQLite)")
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps connections instead
    DATABASES["default"]["OPTIONS"] = {
        **DATABASES["default"].get("OPTIONS", {}),
        "options": f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_TIMEOUT_MS}",
        # The event store's hot queries run as prepared statements (see eventstore.recorders);
        # Django's own queries bind client-side and are never prepared. Set it to "off" behind
        # a transaction-pooling PgBouncer older than 1.21.
        "prepare_threshold": (
            None if env("DB_PREPARE_THRESHOLD", "2") == "off" else env_int("DB_PREPARE_THRESHOLD", 2)
        ),
    }
    if env_bool("DB_POOL", True):
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": env_int("DB_POOL_MIN_SIZE", 2),
            "max_size": env_int("DB_POOL_MAX_SIZE", 20),
            "timeout": env_int("DB_POOL_TIMEOUT", 10),
        }
    DATABASES["default"]["TEST"] = {"NAME": env("TEST_DATABASE_NAME")}
    # The role that owns the log's tables and runs migrations (see "Two database roles" in
    # the README). Only the release step and maintenance use this alias; web and workers
    # connect as the app role and refuse to start in production with these credentials.
    DATABASES["owner"] = dj_database_url.parse(env("DATABASE_OWNER_URL", DATABASE_URL))
    if DATABASES["owner"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_OWNER_URL must be a postgres:// URL")
    DATABASES["owner"]["OPTIONS"] = {"options": DATABASES["default"]["OPTIONS"]["options"]}
    DATABASES["owner"]["TEST"] = {"MIRROR": "default"}
    if replica_url := env("REPLICA_DATABASE_URL"):
        DATABASES["replica"] = {
            **DATABASES["default"],
            **dj_database_url.parse(replica_url),
            "OPTIONS": DATABASES["default"]["OPTIONS"],
            "TEST": {"MIRROR": "default"},
        }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": ("PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA busy_timeout=20000"),
            },
            # A file, not the in-memory default: concurrent connections need WAL and the
            # busy timeout, which an in-memory shared cache ignores.
            "TEST": {"NAME": env("TEST_DATABASE_NAME", f"/tmp/chronicle-test-{os.getpid()}.sqlite3")},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATABASE_ROUTERS = ["config.routers.ReadReplicaRouter"]

# --- Event store ------------------------------------------------------------------------

# The key that signs new events, and older keys still needed to verify old ones.
EVENT_SIGNING_KEY_ID = env("EVENT_SIGNING_KEY_ID", "dev")
EVENT_SIGNING_KEYS = {
    EVENT_SIGNING_KEY_ID: secret("EVENT_SIGNING_KEY", "chronicle-development-event-signing-key"),
}
for entry in env_list("EVENT_SIGNING_OLD_KEYS", []):
    key_id, sep, key = entry.partition(":")
    if not sep or not key_id or not key:
        raise ImproperlyConfigured("EVENT_SIGNING_OLD_KEYS entries must look like 'key_id:secret'")
    EVENT_SIGNING_KEYS.setdefault(key_id, key)

# The Ed25519 key that signs seals (base64 of its 32 raw private bytes; `manage.py seal_key
# --generate` makes one) and its id. Without it, development generates a key into
# SEAL_KEY_FILE on first use (eventstore.sealkeys); production refuses to start.
SEAL_SIGNING_KEY = env("SEAL_SIGNING_KEY")
if SEAL_SIGNING_KEY is None and PRODUCTION:
    raise ImproperlyConfigured("SEAL_SIGNING_KEY must be set when DJANGO_ENV=production")
if SEAL_SIGNING_KEY is not None:
    ed25519_key("SEAL_SIGNING_KEY", SEAL_SIGNING_KEY)
SEAL_SIGNING_KEY_ID = env("SEAL_SIGNING_KEY_ID", None if PRODUCTION else "dev")
if SEAL_SIGNING_KEY_ID is None:
    raise ImproperlyConfigured("SEAL_SIGNING_KEY_ID must be set when DJANGO_ENV=production")
SEAL_KEY_FILE = Path(env("SEAL_KEY_FILE", str(BASE_DIR / "var" / "seal-signing-key")))
# Public keys (id -> base64) of retired seal keys, so seals made before a rotation still verify.
SEAL_OLD_PUBLIC_KEYS: dict[str, str] = {}
for number, entry in enumerate(env_list("SEAL_OLD_PUBLIC_KEYS", []), start=1):
    key_id, sep, key = entry.partition(":")
    if not sep or not key_id or not key:
        raise ImproperlyConfigured(
            f"SEAL_OLD_PUBLIC_KEYS entries must look like 'key_id:base64_public_key' (entry {number} does not)"
        )
    if key_id == SEAL_SIGNING_KEY_ID or key_id in SEAL_OLD_PUBLIC_KEYS:
        raise ImproperlyConfigured(
            f"SEAL_OLD_PUBLIC_KEYS: key id {key_id!r} is taken (by the current key or an earlier entry)"
        )
    SEAL_OLD_PUBLIC_KEYS[key_id] = ed25519_key(f"SEAL_OLD_PUBLIC_KEYS entry {key_id!r}", key)

# --- Commands ---------------------------------------------------------------------------

# Snapshot an aggregate each time its stream passes a multiple of this many events.
SNAPSHOT_EVERY = env_int("SNAPSHOT_EVERY", 100)
# How long a command's idempotency key is remembered.
IDEMPOTENCY_TTL_HOURS = env_int("IDEMPOTENCY_TTL_HOURS", 24)
# How long a duplicate waits for the first request with its key before "in progress".
IDEMPOTENCY_WAIT_MS = env_int("IDEMPOTENCY_WAIT_MS", 5000)

# --- Celery -----------------------------------------------------------------------------

broker_url = env("CELERY_BROKER_URL", env("REDIS_URL"))
CELERY_TASK_ALWAYS_EAGER = broker_url is None
CELERY_BROKER_URL = "memory://" if broker_url is None else broker_url
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TIMEZONE = "UTC"
# A broker that is down must never hold up a command: fail fast and let the sweep catch up.
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_timeout": 1, "socket_connect_timeout": 1}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Workers log through LOGGING (JSON lines with LOG_FORMAT=json, correlation ids), not Celery's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_QUEUE", "chronicle")
PROJECTION_SWEEP_SECONDS = env_int("PROJECTION_SWEEP_SECONDS", 5)
# Sealing (see eventstore.sealing): Celery beat seals every SEAL_INTERVAL_SECONDS; the
# embedded default, which has no beat, seals after each committed command instead.
SEAL_INTERVAL_SECONDS = env_int("SEAL_INTERVAL_SECONDS", 10)
SEAL_AFTER_COMMIT = env_bool("SEAL_AFTER_COMMIT", CELERY_TASK_ALWAYS_EAGER)
# Unsealed events older than this make verify_events report the log stale (exit 2).
SEAL_STALE_SECONDS = env_int("SEAL_STALE_SECONDS", 120)
# Each seal is also appended here: a JSON-lines file; point it at append-only storage.
SEAL_WITNESS = env("SEAL_WITNESS", str(BASE_DIR / "var" / "seal-witness.jsonl"))
CELERY_BEAT_SCHEDULE = {
    "seal-event-log": {
        "task": "eventstore.seal",
        "schedule": SEAL_INTERVAL_SECONDS,
        "options": {"expires": SEAL_INTERVAL_SECONDS},
    },
    # The safety net behind the wake-ups sent on commit (see projections.wakeup).
    "sweep-projections": {
        "task": "projections.sweep",
        "schedule": PROJECTION_SWEEP_SECONDS,
        "options": {"expires": PROJECTION_SWEEP_SECONDS},
    },
}

# --- Projections ------------------------------------------------------------------------

# Every subscriber the runner drives (projections and process managers), by dotted path.
PROJECTIONS_SUBSCRIBERS = env_list(
    "PROJECTIONS_SUBSCRIBERS",
    [
        "projections.orders.OrdersProjection",
        "projections.stock.StockProjection",
        "projections.customers.CustomersProjection",
        "projections.sales.SalesProjection",
        "orders.fulfilment.FulfilmentProcess",
    ],
)
# Events a catch-up batch reads and applies in one transaction.
PROJECTIONS_BATCH_SIZE = env_int("PROJECTIONS_BATCH_SIZE", 500)
# Whether commits wake the workers (the test suite runs subscribers itself unless a test asks).
PROJECTIONS_WAKE_ON_COMMIT = env_bool("PROJECTIONS_WAKE_ON_COMMIT", True)
# A rebuild's pause after each page of its replay (1,000 events): spares a busy database
# the rebuild's load, and lets the tests watch a rebuild in progress.
PROJECTIONS_REBUILD_PAUSE_MS = env_int("PROJECTIONS_REBUILD_PAUSE_MS", 0)
# Read-your-writes: how long an admin page after a command, and an API query with
# ?min_position=, wait for the projections behind them to pass the new event.
ADMIN_FRESHNESS_WAIT_SECONDS = float(env("ADMIN_FRESHNESS_WAIT_SECONDS", "1.5"))
API_MIN_POSITION_WAIT_SECONDS = float(env("API_MIN_POSITION_WAIT_SECONDS", "5"))
# Products with fewer than this many available count as low on stock (admin filter, dashboard).
LOW_STOCK_BELOW = env_int("LOW_STOCK_BELOW", 5)
# Besides Django's view permission on events, these let a user browse the event log.
EVENT_LOG_READ_PERMISSIONS = ["orders.view_history"]

# --- Cache ------------------------------------------------------------------------------

# The API's rate limits are counted here: in Redis when REDIS_URL is set, so every web
# process shares them, else in each process's memory. Short timeouts, because a cache that
# is down only switches rate limiting off (see orders.api.throttling).
if env("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env("REDIS_URL"),
            "KEY_PREFIX": "chronicle",
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
        }
    }

# --- REST API ---------------------------------------------------------------------------

# Requests per user (all of a user's tokens and sessions together), e.g. "1200/minute".
API_THROTTLE_RATE = env("API_THROTTLE_RATE", "1200/minute")
if not re.fullmatch(r"\d+/(s|sec|second|m|min|minute|h|hour|d|day)", API_THROTTLE_RATE):
    raise ImproperlyConfigured(f"API_THROTTLE_RATE must look like 1200/minute, not {API_THROTTLE_RATE!r}")

# How long a new API token is valid unless created with --days.
API_TOKEN_DAYS = env_int("API_TOKEN_DAYS", 90)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "orders.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["orders.api.permissions.ChronicleAccess"],
    "DEFAULT_THROTTLE_CLASSES": ["orders.api.throttling.UserThrottle"],
    "DEFAULT_PARSER_CLASSES": ["orders.api.http.JsonParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "orders.api.schema.ApiSchema",
    "EXCEPTION_HANDLER": "orders.api.errors.handle_exception",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Chronicle API",
    "DESCRIPTION": (
        "Commands change the shop; every change is an event. See the README's API section "
        "for the contract: errors, If-Match, Idempotency-Key and the event feed."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["orders.api.permissions.DocsAccess"],
}

# --- Auth, i18n, static -----------------------------------------------------------------

# Django's model backend, with each request's permission lookup in one query.
AUTHENTICATION_BACKENDS = ["orders.permissions.PermissionsBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", "Europe/Amsterdam")  # the shop's time zone
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
if PRODUCTION:
    STATIC_ROOT = env("STATIC_ROOT", str(BASE_DIR / "staticfiles"))
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
else:
    WHITENOISE_USE_FINDERS = True  # serve the apps' static files without collectstatic

# --- Operations -------------------------------------------------------------------------

# Readiness reports and scrape-time metrics contributed by the apps (dotted paths).
HEALTH_COMPONENTS = ["eventstore.privileges.health", "projections.health.subscribers"]
METRICS_SOURCES = ["projections.health.metrics"]
# A subscriber this far behind is reported "degraded" by /readyz.
PROJECTIONS_DEGRADED_LAG_SECONDS = env_int("PROJECTIONS_DEGRADED_LAG_SECONDS", 60)
# /metrics answers requests bearing this token, or (without one, in development only) from
# these addresses. Production needs the token: behind a reverse proxy on the same host every
# client's address is 127.0.0.1, so an allow-list would let anyone through.
METRICS_TOKEN = env("METRICS_TOKEN")
if PRODUCTION and not METRICS_TOKEN:
    raise ImproperlyConfigured(
        "METRICS_TOKEN must be set when DJANGO_ENV=production (/metrics answers only its bearer)"
    )
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS", ["127.0.0.1", "::1"])
# The OpenAPI schema and its interactive docs: public in development; in production only for
# a signed-in user (an API token or a staff session) unless API_DOCS_PUBLIC=1.
API_DOCS_PUBLIC = env_bool("API_DOCS_PUBLIC", not PRODUCTION)

# --- Security (production) --------------------------------------------------------------

if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

LOG_FORMAT = env("LOG_FORMAT", "plain")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be 'plain' or 'json', not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "config.observability.ContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s"},
        "json": {"()": "config.observability.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]},
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
}
