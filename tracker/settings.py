"""Settings, read from the environment with defaults that run the whole app on one machine.

The defaults need nothing but Python: SQLite in `var/`, a filesystem message broker for Celery in
`var/broker/`, and emails written to files in `var/mail/`. A deployment names its services instead:
DATABASE_URL (PostgreSQL), REDIS_URL (the Celery broker), EMAIL_URL (SMTP), SECRET_KEY, DEBUG=false,
ALLOWED_HOSTS and SITE_URL. See the README.
"""

import datetime
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("TRACKER_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-local-development-key-never-used-in-production"
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
# Links in emails are built from this, never from the request, so they point at the public address.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_filters",
    "django_tables2",
    "django_celery_beat",
    "simple_history",
    "tracker",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "tracker.security.SessionTimeoutMiddleware",
    "tracker.security.TwoFactorMiddleware",
    "tracker.middleware.UserPreferencesMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Records who made each change in the audit history.
    "simple_history.middleware.HistoryRequestMiddleware",
    # Last, as its documentation asks: answers a locked-out login attempt with the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "tracker.urls"
WSGI_APPLICATION = "tracker.wsgi.application"

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
                "django.template.context_processors.i18n",
                "tracker.context_processors.tracker_user",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'tracker.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default lives in var/, which a fresh clone does not have yet.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # The web process, the Celery worker and beat write to one file: wait for the lock instead of
    # failing with "database is locked", take it at the start of each transaction, and let readers
    # go on while one process writes (WAL).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    # Keep each web process's connection between requests: opening one costs PostgreSQL a backend process and
    # the request several milliseconds (a constant page took 8 ms with a new connection each time). The health
    # check at the start of a request replaces a connection that died (a database restart) instead of failing.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=300)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("es", _("Spanish")), ("ko", _("Korean"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
# Evidence files: kept outside the static tree and served only through a view that checks permission.
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Files built from frozen progress reports (PDF, XLSX, CSV), kept so each is built once; safe to delete.
REPORT_CACHE_DIR = Path(env.str("REPORT_CACHE_DIR", default=str(VAR_DIR / "report-cache")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Email: SMTP in production (smtp://user:password@host:587, smtp+tls://...); by default every message
# is written as a file to var/mail/, where a developer can read it.
_email = env.email_url("EMAIL_URL", default="filemail:///var/mail")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email["EMAIL_HOST"] or "localhost"
EMAIL_PORT = _email["EMAIL_PORT"] or 25
EMAIL_HOST_USER = _email["EMAIL_HOST_USER"] or ""
EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"] or ""
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = 10
# A relative mail folder is relative to the project: "filemail:///var/mail" writes to var/mail/.
EMAIL_FILE_PATH = str(BASE_DIR / _email["EMAIL_FILE_PATH"])
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Mexico-Korea Commission Tracker <tracker@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# The cache holds the secretariat dashboard's figures (tracker.figures). Per process by default; in production a
# Redis database of its own (not the broker's: clearing one must not touch the other), so that the figures are
# built once per change for all web processes instead of once in each.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    # Fail fast when Redis is down: tracker.figures then builds the figures itself.
    CACHES["default"].setdefault("OPTIONS", {}).update({"socket_connect_timeout": 1, "socket_timeout": 1})

# Celery: Redis in production; with no REDIS_URL, Kombu's filesystem transport lets the worker and beat
# run on a machine with no broker at all.
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # max_retries 0: publishing fails at once while Redis is down, instead of retrying for the whole connection
    # timeout on every request (the worker's own reconnection is governed by broker_connection_max_retries).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "max_retries": 0}
else:
    CELERY_BROKER_URL = "filesystem://"
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # Where Kombu keeps its exchange tables (by default "control/" in whatever folder the process started in).
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
# Reminders move off weekends and public holidays in the recipient's country (tracker.reminders.working_day).
REMINDER_WORKING_DAYS = env.bool("REMINDER_WORKING_DAYS", default=True)
CELERY_TASK_IGNORE_RESULT = True
# A task a killed worker had started is delivered again; every task is written to be safe to repeat.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Publishing must never hang a web request when the broker is down.
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE

# --- Security -------------------------------------------------------------------------------------------
# OWASP ASVS level 2 where it applies. `python manage.py check --deploy --fail-level WARNING` passes with
# DEBUG=false (CI runs it); the demo run (DEBUG on, plain HTTP on loopback) relaxes only what HTTP forces.

# HTTPS everywhere in production. Behind a proxy that terminates TLS, the proxy must set X-Forwarded-Proto.
HTTPS = env.bool("HTTPS", default=not DEBUG)
SECURE_SSL_REDIRECT = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
LANGUAGE_COOKIE_SECURE = HTTPS
SESSION_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# The health check is asked for by monitors over plain HTTP on the host itself.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Sessions end after SESSION_IDLE_MINUTES without a request and SESSION_MAX_HOURS after signing in, whatever
# happens (tracker.security.SessionTimeoutMiddleware); a deactivated account's sessions end at its next request
# (Django's ModelBackend no longer returns an inactive user).
SESSION_IDLE_MINUTES = env.int("SESSION_IDLE_MINUTES", default=60)
SESSION_MAX_HOURS = env.int("SESSION_MAX_HOURS", default=12)
SESSION_COOKIE_AGE = SESSION_MAX_HOURS * 3600

# Two-factor sign-in (TOTP, django-otp): anyone may turn it on at /accounts/two-factor/; with
# TWO_FACTOR_REQUIRED (on unless DEBUG) the secretariats and admins must, before they see any page.
TWO_FACTOR_REQUIRED = env.bool("TWO_FACTOR_REQUIRED", default=not DEBUG)
OTP_TOTP_ISSUER = "Mexico-Korea Commission Tracker"

# Brute-force protection (django-axes): five failed sign-ins for one account from one address lock that pair
# for 15 minutes. Locking by the pair, not by the account alone, keeps an attacker from locking a whole
# ministry out; the cool-off keeps a lock from being permanent. The client address is the connection's, or
# behind TRUSTED_PROXIES proxies the address they report (tracker.security.client_address).
# The second backend is Django's ModelBackend, reading the user with the profile and agency every page needs.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "tracker.security.ModelBackendWithProfile"]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # failed sign-ins are kept, as logins and logouts are (AccessLog)
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "tracker.security.client_address"
AXES_VERBOSE = False
TRUSTED_PROXIES = env.int("TRUSTED_PROXIES", default=0)

# Content Security Policy (django-csp): no inline script or style anywhere; only the site's own files.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
# Django caps the request, not each file: the evidence form checks each file's size itself.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},  # it logs every page at INFO
        "fontTools": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # it logs every sign-in at INFO; tracker.security logs them, one line each
    },
}

# seed_demo creates accounts with a known password: never on a production installation.
DEMO_DATA_ALLOWED = env.bool("DEMO_DATA_ALLOWED", default=DEBUG)
# A constant page at /bench/baseline/ that scripts/bench_web.py compares each page with: never in production.
BENCHMARK_BASELINE = env.bool("BENCHMARK_BASELINE", default=False)
