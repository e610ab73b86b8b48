# The orchestrator worker: every workflow and activity, polling a Temporal server
# that runs elsewhere (TEMPORAL_ADDRESS). Built by docker-compose.yml.

FROM python:3.11-slim AS build
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim

# git runs every worktree, commit and push activity; ssh for ssh remotes; bubblewrap is
# the sandbox every agent command and gate runs in (see docs/sandbox.md, "Containers").
RUN apt-get update \
    && apt-get install -y --no-install-recommends git openssh-client ca-certificates \
       bubblewrap \
    && rm -rf /var/lib/apt/lists/*

# The mounted clones belong to a host user: build with that user's ids
# (docker-compose.yml passes ORCHESTRATOR_UID / ORCHESTRATOR_GID) so commits
# and worktrees stay writable, and tell git the mount is not "dubious".
ARG UID=1000
ARG GID=1000
RUN groupadd --gid "${GID}" orchestrator \
    && useradd --uid "${UID}" --gid "${GID}" --create-home --shell /bin/sh orchestrator \
    && git config --system --add safe.directory '*'

# Exactly the locked versions (hashes checked), then the project alone.
COPY requirements.lock /tmp/requirements.lock
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --require-hashes -r /tmp/requirements.lock \
    && pip install --no-cache-dir --no-deps /wheels/*.whl \
    && rm -rf /wheels /tmp/requirements.lock

ENV PYTHONUNBUFFERED=1 \
    ORCHESTRATOR_HOME=/home/orchestrator/.orchestrator

USER orchestrator
WORKDIR /home/orchestrator

# Prometheus metrics (the CMD below serves them here).
EXPOSE 9464

# SIGINT is the worker's graceful stop (KeyboardInterrupt drains the worker).
STOPSIGNAL SIGINT

# --no-embedded: never start a dev server inside the container; wait for the
# real one (the restart policy retries until it answers).
ENTRYPOINT ["python", "-m", "worker", "--no-embedded"]
CMD ["--metrics-port", "9464"]
