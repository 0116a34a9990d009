"""Django settings for mlanalytics.

Every setting is read here, once, from the environment (django-environ). With no environment at
all the app runs on its embedded default: SQLite, local-memory cache, in-memory channel layer and
background jobs in a thread of the web process. Setting DATABASE_URL / REDIS_URL switches to the
production wiring (PostgreSQL through psycopg 3, django-redis, channels-redis, Celery on Redis).
The README lists every variable.
"""
import os
from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env file is optional; real deployments set the variables in the environment.
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env(
    "SECRET_KEY",
    default="embedded-development-key-not-for-production-0123456789abcdefghijklmnop" if DEBUG else environ.Env.NOTSET,
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Where the embedded default keeps its SQLite file, the demo truth file and outgoing mail.
DATA_DIR = Path(env("DATA_DIR", default=str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)

# The test command sets this in CI: an unreachable PostgreSQL or Redis is then an error.
REQUIRE_SERVICES = env.bool("REQUIRE_SERVICES", default=False)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework_simplejwt",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "django_filters",
    "corsheaders",
    "channels",
    "axes",
    "mlanalytics.core",
    "inventory",
    "workflow",
    "predictive",
]

MIDDLEWARE = [
    # Operations: the request id first, so every later log record carries it; then the latency metrics.
    "mlanalytics.core.requestid.RequestIdMiddleware",
    "mlanalytics.core.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "mlanalytics.core.middleware.SecurityHeadersMiddleware",
    # Refuses NUL characters and out-of-range limit/offset with 400 (inside the header middleware, so the
    # refusal carries the same headers as any answer).
    "mlanalytics.core.middleware.MalformedRequestMiddleware",
    # Last, as axes asks: turns a locked-out login (any surface) into 429 (mlanalytics.core.logins).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "mlanalytics.urls"
WSGI_APPLICATION = "mlanalytics.wsgi.application"
ASGI_APPLICATION = "mlanalytics.asgi.application"

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
                "mlanalytics.core.context_processors.navigation",
                "mlanalytics.core.context_processors.shop_locale",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers go on while one writer commits; IMMEDIATE takes the write lock at BEGIN,
    # so two transactions racing for the last unit queue up instead of failing half-way.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a real file (not shared-cache memory) so locking behaves as in the embedded app;
    # the process id keeps parallel runs apart.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "core.User"

# --- Cache, channel layer, background jobs -----------------------------------------------------
REDIS_URL = env("REDIS_URL", default="")
# Parallel test workers share Redis: each gets its own key space.
CACHE_KEY_PREFIX = env("CACHE_KEY_PREFIX", default="mla") + env("PYTEST_XDIST_WORKER", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": CACHE_KEY_PREFIX,
            "TIMEOUT": env.int("CACHE_TIMEOUT", default=6 * 3600),
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient", "SOCKET_CONNECT_TIMEOUT": 2},
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": f"{CACHE_KEY_PREFIX}:asgi", "capacity": 1500},
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "mlanalytics",
            "TIMEOUT": env.int("CACHE_TIMEOUT", default=6 * 3600),
            "OPTIONS": {"MAX_ENTRIES": 20000},
        }
    }
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = env("TIME_ZONE", default="Europe/London")  # the shop's (TIME_ZONE below)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Without a broker, jobs run in a background thread of the web process (embedded default).
BACKGROUND_JOBS = "celery" if CELERY_BROKER_URL else "thread"
# The run command serves the app with this on, so periodic jobs (alert checks, report emails,
# message retries) run without Celery beat.
EMBEDDED_SCHEDULER = env.bool("EMBEDDED_SCHEDULER", default=False)

# --- Auth ------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Failed logins: one budget per address and one per username, counted by django-axes in the database (so the
# same with or without Redis) across the login page, the Django admin and the token endpoint; the attempt that
# spends it and every one after it answer 429 until LOGIN_LOCKOUT_MINUTES pass without a failure.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked-out login before any password is checked
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]  # either one spent locks out
AXES_CLIENT_IP_CALLABLE = "mlanalytics.core.logins.client_address"
AXES_LOCKOUT_CALLABLE = "mlanalytics.core.logins.lockout_response"
# A success does not wipe the failures: with an account of their own, a guesser could otherwise reset the count
# of the address they share with the accounts they guess at.
AXES_RESET_ON_SUCCESS = False
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/admin/ml-analytics/"
LOGOUT_REDIRECT_URL = "login"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "mlanalytics.core.tokens.JWTAuthentication",  # simplejwt's, plus the user's token version
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # drf-spectacular's, plus the error answers every operation gives (mlanalytics/core/openapi.py).
    "DEFAULT_SCHEMA_CLASS": "mlanalytics.core.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["mlanalytics.core.strict_input.StrictFilterBackend"],
    # JSON bodies nested too deep or holding NUL characters are refused as unparseable (400).
    "DEFAULT_PARSER_CLASSES": [
        "mlanalytics.core.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # At most 1,000 rows a page; a limit or offset out of range is a 400 (mlanalytics/core/strict_input.py).
    "DEFAULT_PAGINATION_CLASS": "mlanalytics.core.strict_input.StrictLimitOffsetPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "mlanalytics.core.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    # Throttles count per REMOTE_ADDR, not per client-written X-Forwarded-For (daphne --proxy-headers sets
    # REMOTE_ADDR from the TLS proxy's header in production).
    "NUM_PROXIES": 0,
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("THROTTLE_ANON", default="60/min"),
        "user": env("THROTTLE_USER", default="1200/min"),
    },
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=1)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    # Tokens carry the user's token version; a password change or reset, or deactivation, ends them (core.tokens).
    "TOKEN_OBTAIN_SERIALIZER": "mlanalytics.core.tokens.TokenObtainPairSerializer",
    "TOKEN_REFRESH_SERIALIZER": "mlanalytics.core.tokens.TokenRefreshSerializer",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "mlanalytics API",
    "DESCRIPTION": "Forecasts, recommendations and automations for a device-repair business.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    # The API's documented request bodies are JSON (form posts still parse, for the browsable API and tests).
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    # One schema name per choice set used under several field names.
    "ENUM_NAME_OVERRIDES": {
        "ChannelEnum": "workflow.models.Channel",
        "PartCategoryEnum": "inventory.models.PartCategory",
        "TriggerEnum": "workflow.models.AutomationRule.Trigger",
    },
}

CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])

# --- Security (production) --------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# A login lasts a working day (opening hours plus slack), not Django's two weeks; then the login page again.
SESSION_HOURS = env.int("SESSION_HOURS", default=10)
SESSION_COOKIE_AGE = SESSION_HOURS * 3600
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # The container's health probe calls http://127.0.0.1:8000/healthz from inside, past the TLS proxy.
    # So does compose's web probe, /readyz (/metrics is answered before this redirect: core.metrics).
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# --- Locale ----------------------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
# Where the shop is (mlanalytics.core.shop): its public holidays (the `holidays` package's country code and
# subdivision; a store may name its own country), time zone and currency (ISO 4217: pages, PDFs and Excel).
# The older WORKFLOW_HOLIDAY_COUNTRY / _SUBDIVISION variables are still read when these are not set.
SHOP_COUNTRY = env("SHOP_COUNTRY", default=env("WORKFLOW_HOLIDAY_COUNTRY", default="GB"))
SHOP_SUBDIVISION = env("SHOP_SUBDIVISION", default=env("WORKFLOW_HOLIDAY_SUBDIVISION", default="ENG"))
TIME_ZONE = env("TIME_ZONE", default="Europe/London")
SHOP_CURRENCY = env("SHOP_CURRENCY", default="GBP")
USE_I18N = True
USE_TZ = True

# --- Static files ----------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env("STATIC_ROOT", default=str(DATA_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Email and SMS ---------------------------------------------------------------------------
vars().update(env.email_url("EMAIL_URL", default=f"filemail://{DATA_DIR / 'mail'}"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Repairs <repairs@example.co.uk>")
SMS_PROVIDER = env("SMS_PROVIDER", default="outbox")  # "outbox" records only; "http" posts to SMS_API_URL
SMS_API_URL = env("SMS_API_URL", default="")
SMS_API_KEY = env("SMS_API_KEY", default="")
SMS_SENDER_ID = env("SMS_SENDER_ID", default="REPAIRS")

# --- Demo data -------------------------------------------------------------------------------
DEMO_SEED = env.int("DEMO_SEED", default=42)
DEMO_SCALE = env("DEMO_SCALE", default="demo")
# The test suite seeds one data set per session at this scale (small keeps CI fast; demo is closer to life).
TEST_DEMO_SCALE = env("TEST_DEMO_SCALE", default="small")
TEST_DEMO_SEED = env.int("TEST_DEMO_SEED", default=7)
# Pins the session's demo data to end on this day (YYYY-MM-DD) and moves the test clock to the day after, so the
# suite runs as it would on that day; empty: the data end yesterday (today's clock).
TEST_DEMO_END_DATE = env("TEST_DEMO_END_DATE", default="")

# --- Operations: logs, readiness, metrics, Sentry (README "Operations") ------------------------
# text (default) or json: one JSON object per line (python-json-logger) with the request id of the HTTP
# request, or of the request that queued the background job, in `request_id`.
LOG_FORMAT = env("LOG_FORMAT", default="text")
# In JSON mode the Celery worker keeps the LOGGING below instead of its own format, so its lines are JSON too.
CELERY_WORKER_HIJACK_ROOT_LOGGER = LOG_FORMAT != "json"
# /readyz answers 503 when one of these checks is degraded (database, cache, redis, worker, beat, models);
# the others show as degraded in its body only.
READYZ_REQUIRED = env.list("READYZ_REQUIRED", default=["database", "cache", "redis"])
READYZ_WORKER_MAX_AGE_SECONDS = env.int("READYZ_WORKER_MAX_AGE_SECONDS", default=180)
READYZ_BEAT_MAX_AGE_SECONDS = env.int("READYZ_BEAT_MAX_AGE_SECONDS", default=300)
READYZ_MODEL_MAX_AGE_HOURS = env.int("READYZ_MODEL_MAX_AGE_HOURS", default=48)
# Bearer token of the Prometheus endpoint /metrics; empty switches the endpoint off (404).
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# Errors and traces go to Sentry only when SENTRY_DSN is set.
SENTRY_DSN = env("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        environment=env("SENTRY_ENVIRONMENT", default="production"),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "mlanalytics.core.requestid.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": ["asctime", "levelname", "name", "message", "request_id"],
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json" if LOG_FORMAT == "json" else "plain",
                             "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "cmdstanpy": {"level": "WARNING"},
        "prophet": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        "django.channels.server": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
        "weasyprint": {"level": "ERROR"},
    },
}

# --- Workflow (rules, messages, working time) ----------------------------------------------------
# Quiet hours in each store's time zone: customer messages created then wait until the end.
WORKFLOW_QUIET_HOURS = env.list("WORKFLOW_QUIET_HOURS", default=["20:00", "08:00"])
WORKFLOW_QUIET_HOURS_CHANNELS = env.list("WORKFLOW_QUIET_HOURS_CHANNELS", default=["sms", "email"])
# Failed deliveries are retried after RETRY_BASE × 2^(attempt − 1) seconds, up to MAX_ATTEMPTS tries.
WORKFLOW_RETRY_BASE_SECONDS = env.int("WORKFLOW_RETRY_BASE_SECONDS", default=60)
WORKFLOW_MAX_ATTEMPTS = env.int("WORKFLOW_MAX_ATTEMPTS", default=5)
# Deliver a due message right after it is queued (otherwise the outbox job sends it within a minute).
WORKFLOW_DELIVER_IMMEDIATELY = env.bool("WORKFLOW_DELIVER_IMMEDIATELY", default=True)
# A ticket is "SLA at risk" this many hours before its promise (or when predicted to miss it).
WORKFLOW_SLA_RISK_HOURS = env.int("WORKFLOW_SLA_RISK_HOURS", default=12)
# Working time: the store's public holidays (SHOP_COUNTRY or the store's own); these close the shop, the rest
# run short hours (names in English, as the holidays package gives them).
WORKFLOW_CLOSED_HOLIDAYS = env.list("WORKFLOW_CLOSED_HOLIDAYS", default=["Christmas Day", "Boxing Day", "New Year's Day"])
WORKFLOW_HOLIDAY_HOURS = env.list("WORKFLOW_HOLIDAY_HOURS", default=["10:00", "16:00"])
# Rules triggered by rules: how deep a chain may go before the engine stops it (loops).
WORKFLOW_MAX_RULE_CHAIN = env.int("WORKFLOW_MAX_RULE_CHAIN", default=3)

# --- Inventory -------------------------------------------------------------------------------
# Cost of holding stock per year, as a share of its unit cost (capital, space, obsolescence).
INVENTORY_HOLDING_COST_RATE = env.float("INVENTORY_HOLDING_COST_RATE", default=0.25)
# Cost of one unit not on the shelf when a repair needs it (SHOP_CURRENCY): the waiting ticket, re-handling, goodwill.
INVENTORY_STOCKOUT_COST = env.float("INVENTORY_STOCKOUT_COST", default=25.0)
# How often the recommended policy reviews stock (days); the protection interval is lead time + this.
INVENTORY_REVIEW_PERIOD_DAYS = env.int("INVENTORY_REVIEW_PERIOD_DAYS", default=1)
# Order quantities never exceed this many days of forecast demand (obsolescence guard), MOQ/pack aside.
INVENTORY_MAX_ORDER_COVER_DAYS = env.int("INVENTORY_MAX_ORDER_COVER_DAYS", default=180)
# Supplier choice: share of the unit price charged per unit for each unit of late-delivery probability
# (weighted-sum supplier selection); 0 chooses on price, lead-time spread and defects alone.
INVENTORY_LATE_DELIVERY_WEIGHT = env.float("INVENTORY_LATE_DELIVERY_WEIGHT", default=0.5)
# A part with stock and no consumption for this many days is dead stock.
INVENTORY_DEAD_STOCK_DAYS = env.int("INVENTORY_DEAD_STOCK_DAYS", default=180)
# Stored reorder policies older than this are recomputed in the background.
INVENTORY_POLICY_MAX_AGE_MINUTES = env.int("INVENTORY_POLICY_MAX_AGE_MINUTES", default=360)

# --- Predictive ------------------------------------------------------------------------------
# Threads that run Prophet fits side by side during training (each waits on its own cmdstan process).
PREDICTIVE_TRAINING_WORKERS = env.int("PREDICTIVE_TRAINING_WORKERS", default=2)
# A supplier counts as a qualified alternative (cost-optimization's "cheapest qualified supplier") only if
# its purchase orders of the last RECORD_DAYS days up to the data end arrived on time at least this share of
# the time, with at most this share of units defective, over at least this many deliveries.
PREDICTIVE_QUALIFIED_MIN_ON_TIME = env.float("PREDICTIVE_QUALIFIED_MIN_ON_TIME", default=0.75)
PREDICTIVE_QUALIFIED_MAX_DEFECT = env.float("PREDICTIVE_QUALIFIED_MAX_DEFECT", default=0.05)
PREDICTIVE_QUALIFIED_MIN_DELIVERIES = env.int("PREDICTIVE_QUALIFIED_MIN_DELIVERIES", default=5)
PREDICTIVE_SUPPLIER_RECORD_DAYS = env.int("PREDICTIVE_SUPPLIER_RECORD_DAYS", default=365)
# Lead time (days) and service level assumed for a part with no supplier price line / no service level
# of its own; inventory-demand-prediction says when it used them (lead_time_source / service_level_source).
PREDICTIVE_DEFAULT_LEAD_TIME_DAYS = env.int("PREDICTIVE_DEFAULT_LEAD_TIME_DAYS", default=7)
PREDICTIVE_DEFAULT_SERVICE_LEVEL = env.float("PREDICTIVE_DEFAULT_SERVICE_LEVEL", default=0.95)
# A forecast or customer model whose data ends more than this many days before the data does is served
# flagged `stale` while a refit runs in the background (the nightly run normally refreshes every model,
# including those fitted on demand).
PREDICTIVE_MAX_STALE_DAYS = env.int("PREDICTIVE_MAX_STALE_DAYS", default=1)

# --- Workflow: hand-set weights and simulation thresholds (docs/workflow.md; responses flag them `assumed`) ----
# Triage priority score 0-100: relative weight of each component, the 0-1 level of each priority, the slack (h)
# at which SLA pressure is e^-1, the age (h) at which the age component is full, and the SLA pressure used
# when the ready time cannot be predicted.
WORKFLOW_PRIORITY_SCORE_WEIGHTS = {k: float(v) for k, v in env.dict(
    "WORKFLOW_PRIORITY_SCORE_WEIGHTS", default={"priority": 35.0, "sla_pressure": 45.0, "age": 10.0, "comeback": 10.0}).items()}
WORKFLOW_PRIORITY_LEVELS = {k: float(v) for k, v in env.dict(
    "WORKFLOW_PRIORITY_LEVELS", default={"low": 0.1, "normal": 0.35, "high": 0.7, "urgent": 1.0}).items()}
WORKFLOW_SLA_PRESSURE_HOURS = env.float("WORKFLOW_SLA_PRESSURE_HOURS", default=24.0)
WORKFLOW_PRIORITY_AGE_FULL_HOURS = env.float("WORKFLOW_PRIORITY_AGE_FULL_HOURS", default=168.0)
WORKFLOW_UNKNOWN_SLA_PRESSURE = env.float("WORKFLOW_UNKNOWN_SLA_PRESSURE", default=0.5)
# Technician allocation objective: weight per priority (× (1 + score/100)), value lost per day of delay,
# per day past the promise (× weight), per minute of work, and the least share of its weight a job keeps.
WORKFLOW_ALLOCATION_PRIORITY_WEIGHTS = {k: float(v) for k, v in env.dict(
    "WORKFLOW_ALLOCATION_PRIORITY_WEIGHTS", default={"low": 1.0, "normal": 2.0, "high": 4.0, "urgent": 8.0}).items()}
WORKFLOW_ALLOCATION_DAY_DISCOUNT = env.float("WORKFLOW_ALLOCATION_DAY_DISCOUNT", default=0.1)
WORKFLOW_ALLOCATION_LATE_PENALTY = env.float("WORKFLOW_ALLOCATION_LATE_PENALTY", default=0.5)
WORKFLOW_ALLOCATION_MINUTE_COST = env.float("WORKFLOW_ALLOCATION_MINUTE_COST", default=0.001)
WORKFLOW_ALLOCATION_FLOOR_SHARE = env.float("WORKFLOW_ALLOCATION_FLOOR_SHARE", default=0.05)
# What-if simulation: the baseline must reproduce the measured mean cycle time within this share before a
# scenario is trusted; inputs (technician speed, rework share, QC time) need this many observations, else
# they come from the last HISTORY_DAYS of every store, else the store is not simulated.
WORKFLOW_SIMULATION_TOLERANCE = env.float("WORKFLOW_SIMULATION_TOLERANCE", default=0.05)
WORKFLOW_SIMULATION_MIN_SAMPLES = env.int("WORKFLOW_SIMULATION_MIN_SAMPLES", default=20)
WORKFLOW_SIMULATION_HISTORY_DAYS = env.int("WORKFLOW_SIMULATION_HISTORY_DAYS", default=365)
# After a failed QA inspection the control charts are re-checked at once, then at most once per this many seconds.
WORKFLOW_QA_RECHECK_SECONDS = env.int("WORKFLOW_QA_RECHECK_SECONDS", default=300)

# --- Inventory: assumed figures (documented in docs/inventory.md; responses say when they were used) -------
# Cost-optimization replays "today's ordering" read back from the shop's purchase orders: a part and store
# needs at least this many orders in the replayed window for its (s, S) levels to be read from them ...
INVENTORY_TODAY_MIN_ORDERS = env.int("INVENTORY_TODAY_MIN_ORDERS", default=3)
# ... and a weekday is one of a store's review days when at least this share of its order days fall on it.
INVENTORY_TODAY_REVIEW_MIN_SHARE = env.float("INVENTORY_TODAY_REVIEW_MIN_SHARE", default=0.05)
# Assumed for parts with fewer orders: s = trailing RATE_DAYS demand rate × (quoted lead + BUFFER_DAYS),
# S = s + COVER_DAYS of demand; and review weekdays (0 = Monday) for a store that placed no orders at all.
INVENTORY_TODAY_FALLBACK_RATE_DAYS = env.int("INVENTORY_TODAY_FALLBACK_RATE_DAYS", default=56)
INVENTORY_TODAY_FALLBACK_BUFFER_DAYS = env.int("INVENTORY_TODAY_FALLBACK_BUFFER_DAYS", default=7)
INVENTORY_TODAY_FALLBACK_COVER_DAYS = env.int("INVENTORY_TODAY_FALLBACK_COVER_DAYS", default=28)
INVENTORY_TODAY_FALLBACK_REVIEW_WEEKDAYS = [int(d) for d in env.list("INVENTORY_TODAY_FALLBACK_REVIEW_WEEKDAYS", default=["0", "1", "2", "3", "4"])]
# The out-of-sample check builds the recommended policy from this many days before the replayed window
# (a moving average of the last AVERAGE_WEEKS weeks), and is left out with fewer than MIN_WEEKS weeks of history.
INVENTORY_HOLDOUT_HISTORY_DAYS = env.int("INVENTORY_HOLDOUT_HISTORY_DAYS", default=365)
INVENTORY_HOLDOUT_AVERAGE_WEEKS = env.int("INVENTORY_HOLDOUT_AVERAGE_WEEKS", default=26)
INVENTORY_HOLDOUT_MIN_WEEKS = env.int("INVENTORY_HOLDOUT_MIN_WEEKS", default=8)
# A reorder suggestion is "high" urgency when the projected stockout falls within lead time + review period
# + this many days (critical within the lead time itself).
INVENTORY_URGENCY_HIGH_EXTRA_DAYS = env.int("INVENTORY_URGENCY_HIGH_EXTRA_DAYS", default=7)
# The supplier allocation charges each unit of demand it cannot cover at this multiple of INVENTORY_STOCKOUT_COST.
INVENTORY_UNMET_DEMAND_PENALTY_FACTOR = env.float("INVENTORY_UNMET_DEMAND_PENALTY_FACTOR", default=10.0)
# Lead time (days) and order cost (SHOP_CURRENCY) of a part no supplier lists, when the shop has no supplier on record
# at all to take the typical figures from.
INVENTORY_FALLBACK_LEAD_TIME_DAYS = env.float("INVENTORY_FALLBACK_LEAD_TIME_DAYS", default=7.0)
INVENTORY_FALLBACK_ORDER_COST = env.float("INVENTORY_FALLBACK_ORDER_COST", default=15.0)
# ... re-estimated every this many days through the window, each time from the data before that day only.
INVENTORY_HOLDOUT_REFIT_DAYS = env.int("INVENTORY_HOLDOUT_REFIT_DAYS", default=28)

# --- Import page (mlanalytics/imports/views.py) ---------------------------------------------------------
# The largest file the import page accepts, in MB (the command line takes any size).
IMPORT_MAX_UPLOAD_MB = env.float("IMPORT_MAX_UPLOAD_MB", default=20.0)
# Files up to this many KB are checked and imported within the request; larger ones run as a background job
# whose progress the page shows.
IMPORT_INLINE_MAX_KB = env.int("IMPORT_INLINE_MAX_KB", default=256)
