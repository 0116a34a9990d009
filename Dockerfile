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
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz').status==200 else 1)"
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "--proxy-headers", "mlanalytics.asgi:application"]
