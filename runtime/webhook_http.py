"""The webhook receiver's HTTP side: one POST per GitHub delivery, one answer and one log
line each.

What each answer means (GitHub shows status and body in the webhook's "Recent
Deliveries"; it does not retry a failed delivery by itself, a person may press
Redeliver):

- 200: a ping, or a delivery some loop was told of (the body names them).
- 202: verified and taken, but nothing to do: an event the loops do not follow, a
  check not completed yet or a pending status, a pull request no running loop follows.
- 400: no event or delivery id, or a body that is not the JSON GitHub sends.
- 401: the signature is missing or wrong; nothing is read further, nothing is recorded.
- 405 / 411 / 413: not a POST; no Content-Length; over GitHub's 25 MB payload cap
  (refused from the header, before the body is read).
- 409: a delivery id taken before (a replay; GitHub's Redeliver sends the same id):
  a conflict with what this receiver has recorded, so never a 2xx that would let a
  replay look accepted.
- 500: a bug while routing (logged with its traceback); the delivery is given back.
- 503: Temporal could not be asked; the delivery is given back, so Redeliver works.
  Also when MAX_REQUESTS are being answered already (a flood holds no more threads).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from runtime.webhook import (
    EVENTS,
    MAX_BODY,
    Concerned,
    DeliveryLog,
    concerned,
    idle,
    valid_delivery_id,
    verified,
)

log = logging.getLogger("orchestrator.webhook")
# What an event or action name may look like in a log line (GitHub's are snake_case).
_NAME = re.compile(r"^[a-z_]{1,50}$|^-$")


@dataclass(frozen=True)
class Reply:
    status: int
    text: str


class RouteUnavailable(Exception):
    """Temporal could not be asked which loops follow the pull request."""


# (event, delivery id, what it concerns) -> the reply; blocking, run in the request's thread.
Route = Callable[[str, str, Concerned], Reply]


class Receiver:
    """Verifies, refuses replays and hands the rest to `route`."""

    def __init__(self, secret: bytes, deliveries: DeliveryLog, route: Route) -> None:
        self.secret, self.deliveries, self.route = secret, deliveries, route

    def receive(self, headers: Mapping[str, str], body: bytes) -> Reply:
        """Headers by lower-case name (a tunnel speaking HTTP/2 lower-cases them)."""
        delivery = headers.get("x-github-delivery") or "-"
        event = headers.get("x-github-event") or "-"
        reply, action = self._receive(headers, body, delivery, event)
        if not valid_delivery_id(delivery):
            delivery = "(invalid)"  # never echo arbitrary header bytes into the log
        log.info(
            "%d delivery=%s event=%s action=%s: %s",
            reply.status,
            delivery,
            event if _NAME.match(event) else "(invalid)",
            action if action and _NAME.match(action) else "-",
            reply.text,
        )
        return reply

    def _receive(
        self, headers: Mapping[str, str], body: bytes, delivery: str, event: str
    ) -> tuple[Reply, str | None]:
        if not verified(self.secret, body, headers.get("x-hub-signature-256")):
            why = "missing" if not headers.get("x-hub-signature-256") else "wrong"
            return Reply(401, f"X-Hub-Signature-256 {why}: nothing done"), None
        if event == "-" or not valid_delivery_id(delivery):
            return Reply(400, "X-GitHub-Event or X-GitHub-Delivery missing or malformed"), None
        try:
            payload = parse_body(headers.get("content-type", ""), body)
        except ValueError as err:
            return Reply(400, f"the body is not a GitHub payload: {err}"), None
        action = payload.get("action") if isinstance(payload.get("action"), str) else None
        if not self.deliveries.take(delivery):
            return Reply(409, f"delivery {delivery} was received before: a replay, ignored"), action
        if event == "ping":
            return Reply(200, "pong"), action
        if event not in EVENTS:
            return Reply(202, f"ignored: the loops do not follow {event} events"), action
        if nothing_new := idle(event, payload):
            return Reply(202, f"ignored: {nothing_new}"), action
        try:
            return self.route(event, delivery, concerned(event, payload)), action
        except RouteUnavailable as err:
            self.deliveries.forget(delivery)
            return Reply(503, f"no loop told: {err}; Redeliver it once Temporal answers"), action
        except Exception as err:  # a bug: this delivery fails, the receiver goes on serving
            self.deliveries.forget(delivery)
            log.exception("routing delivery %s failed", delivery)
            return Reply(500, f"no loop told: {type(err).__name__} (see this log)"), action


def parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    """The payload: JSON, or the `payload` field of a form (GitHub's two content types)."""
    try:
        text = body.decode("utf-8")
        form = content_type.split(";")[0].strip() == "application/x-www-form-urlencoded"
        if form and text.startswith("payload="):
            text = parse_qs(text, strict_parsing=True)["payload"][0]
        payload = json.loads(text)
    except (UnicodeDecodeError, KeyError, ValueError) as err:
        raise ValueError(type(err).__name__) from None
    if not isinstance(payload, dict):
        raise ValueError("not a JSON object")
    return payload


# Requests answered at once; GitHub sends one delivery at a time per event, rarely more.
MAX_REQUESTS = 16


class WebhookServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], receiver: Receiver) -> None:
        self.receiver = receiver
        self.slots = threading.BoundedSemaphore(MAX_REQUESTS)
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: WebhookServer
    server_version = "orchestrator-webhook"
    timeout = 30  # a client that stops sending mid-body holds a thread no longer

    def do_POST(self) -> None:
        if not self.server.slots.acquire(blocking=False):
            self.close_connection = True
            return self._answer(Reply(503, f"busy: {MAX_REQUESTS} requests in progress"))
        try:
            self._post()
        finally:
            self.server.slots.release()

    def _post(self) -> None:
        length = self.headers.get("Content-Length", "")
        if not length.isdigit():
            return self._answer(Reply(411, "Content-Length required"))
        if int(length) > MAX_BODY:
            self.close_connection = True  # the body is never read
            return self._answer(Reply(413, f"over GitHub's payload cap of {MAX_BODY} bytes"))
        body = self.rfile.read(int(length))
        if len(body) < int(length):
            return self._answer(Reply(400, "the body ended before Content-Length"))
        headers = {name.lower(): value for name, value in self.headers.items()}
        self._send(self.server.receiver.receive(headers, body))

    def do_GET(self) -> None:
        self._answer(Reply(405, "this is a GitHub webhook receiver: it takes POSTs only"))

    def _answer(self, reply: Reply) -> None:
        """A reply the receiver never saw (refused on the request line or headers)."""
        log.info("%d %s %s: %s", reply.status, self.command, self.path[:100], reply.text)
        self._send(reply)

    def _send(self, reply: Reply) -> None:
        data = (reply.text + "\n").encode()
        self.send_response(reply.status)
        if reply.status == 405:
            self.send_header("Allow", "POST")
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: every request has its own line from `Receiver.receive` or `_answer`."""
