# Production image: the Django/Channels app under daphne; the same image runs the Celery worker and beat.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DATA_DIR=/app/var \
    STATIC_ROOT=/app/staticfiles

# WeasyPrint renders PDFs with Pango/HarfBuzz; fonts give it glyphs for text and £ signs.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
RUN DEBUG=0 SECRET_KEY=build-only-collectstatic python manage.py collectstatic --noinput -v 0 \
 && useradd --create-home --uid 10001 app \
 && mkdir -p /app/var && chown -R app /app/var

USER app
EXPOSE 8000
# The probe calls the app directly (no TLS; /healthz is exempt from the HTTPS redirect) with the first
# allowed host name as Host, so a production ALLOWED_HOSTS without 127.0.0.1 still answers it.
# Containers of this image that serve no HTTP (Celery worker, beat, migrate) switch it off in compose.yaml.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD python -c "import os,sys,urllib.request as u; h=next((x.strip().lstrip('.') for x in os.environ.get('ALLOWED_HOSTS','').split(',') if x.strip() not in ('','*')),'localhost'); sys.exit(0 if u.urlopen(u.Request('http://127.0.0.1:8000/healthz',headers={'Host':h}),timeout=4).status==200 else 1)"
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "--proxy-headers", "--no-server-name", "mlanalytics.asgi:application"]
