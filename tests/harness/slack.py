"""A local stand-in for Slack: a real HTTP server that answers incoming webhooks and
``chat.postMessage`` the way Slack documents, records every request, and can be told to fail.

Webhooks: ``200 ok``; ``400 invalid_blocks``; ``404 no_service`` for an unknown URL.
https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks
Web API: ``200 {"ok": true, "channel", "ts"}`` or ``200 {"ok": false, "error"}`` (``invalid_auth``,
``channel_not_found``, ``invalid_blocks``); ``429`` with ``Retry-After`` when rate limited.
https://docs.slack.dev/reference/methods/chat.postMessage, https://docs.slack.dev/apis/web-api/rate-limits
``conversations.history`` / ``conversations.replies`` (GET): a channel's messages by channel ID only,
newest first, from ``oldest``, ``limit`` per page with ``response_metadata.next_cursor``; a message's
``metadata`` only with ``include_all_metadata=true``.
https://docs.slack.dev/reference/methods/conversations.history,
https://docs.slack.dev/reference/methods/conversations.replies,
https://docs.slack.dev/messaging/message-metadata
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

WEBHOOK_PATH = "/services/T0000000000/B0000000000/local0webhook0secret"
BOT_TOKEN = "xoxb-0000000000-local-bot-token-secret"

# Block Kit limits: https://docs.slack.dev/reference/block-kit/blocks
LIMITS = {"blocks": 50, "header": 150, "section": 3000, "fields": 10, "field": 2000, "context": 10}


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict | None
    status: int
    answer: str
    at: float = field(default_factory=time.monotonic)


def violations(message: dict) -> list[str]:
    """Every documented Block Kit limit the message breaks (empty when it is fine)."""
    out = []
    blocks = message.get("blocks", [])
    if len(blocks) > LIMITS["blocks"]:
        out.append(f"{len(blocks)} blocks")
    for b in blocks:
        if b["type"] == "header" and len(b["text"]["text"]) > LIMITS["header"]:
            out.append("header text")
        if b["type"] == "section":
            if len(b.get("text", {}).get("text", "")) > LIMITS["section"]:
                out.append("section text")
            fields = b.get("fields", [])
            if len(fields) > LIMITS["fields"] or any(len(f["text"]) > LIMITS["field"] for f in fields):
                out.append("section fields")
        if b["type"] == "context" and len(b["elements"]) > LIMITS["context"]:
            out.append("context elements")
    if not message.get("text"):
        out.append("no fallback text")
    return out + sdk_refusals(blocks)


def sdk_refusals(blocks: list[dict]) -> list[str]:
    """What Slack's own SDK models refuse in the blocks: an unknown block type or element, or a
    field past its limit (``slack_sdk.models.blocks``, each block parsed and validated)."""
    from slack_sdk.errors import SlackObjectFormationError
    from slack_sdk.models.blocks import Block

    out = []
    for i, raw in enumerate(blocks):
        block = Block.parse(raw)
        if block is None or type(block) is Block:
            out.append(f"block {i}: {raw.get('type')!r} is not a Block Kit block the SDK knows")
            continue
        try:
            block.validate_json()
        except SlackObjectFormationError as e:
            out.append(f"block {i}: {e}")
            continue
        if block.to_dict() != raw:
            out.append(f"block {i}: the SDK reads it otherwise: {block.to_dict()} != {raw}")
    return out


class SlackStub:
    """``with SlackStub() as slack``: ``slack.webhook_url``, ``slack.api_url``, ``slack.requests``."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._script: list[tuple[int, dict[str, str], str]] = []
        # Answers to lose: "after" (posted, then the connection is cut), "before" (cut, not
        # posted), "garbage" (posted, answered 200 with a body that is not Slack's JSON).
        self._lose: list[str] = []
        # What the channels hold: (channel ID, ts, thread_ts, message body).
        self.channels: list[tuple[str, str, str | None, dict]] = []
        self._ts = itertools.count(1)
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                status, headers, answer = stub._read(self.path, self.headers.get("Authorization", ""))
                with stub._lock:
                    stub.requests.append(Request(self.path, {k.lower(): v for k, v in self.headers.items()}, None, status, answer))
                self._reply(status, headers, answer)

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                lose = stub._lose.pop(0) if stub._lose else None
                if lose == "before":
                    self.close_connection = True
                    return
                status, headers, answer = stub._answer(self.path, self.headers.get("Authorization", ""), body)
                with stub._lock:
                    stub.requests.append(Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body, status, answer))
                if lose == "after":
                    self.close_connection = True
                    return
                if lose == "garbage":
                    answer = "<html>upstream timed out</html>"
                self._reply(status, headers, answer)

            def _reply(self, status, headers, answer):
                data = answer.encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.webhook_url = self.url + WEBHOOK_PATH
        self.api_url = self.url + "/api"

    def fail(self, status: int, times: int = 1, retry_after: int | None = None, body: str = "") -> None:
        """Answer the next ``times`` requests with ``status`` (and ``Retry-After``)."""
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        self._script.extend([(status, headers, body)] * times)

    def lose(self, how: str, times: int = 1) -> None:
        """Lose the answer to the next ``times`` posts: ``after`` posting, ``before``, or ``garbage``."""
        self._lose.extend([how] * times)

    def _read(self, path: str, auth: str) -> tuple[int, dict[str, str], str]:
        url = urlsplit(path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path not in ("/api/conversations.history", "/api/conversations.replies"):
            return 404, {}, "no_service"
        if auth != f"Bearer {BOT_TOKEN}":
            return 200, {}, json.dumps({"ok": False, "error": "invalid_auth"})
        channel = q.get("channel", "")
        if not re.fullmatch(r"[CGD][A-Z0-9]{8,}", channel):
            return 200, {}, json.dumps({"ok": False, "error": "channel_not_found"})
        oldest = float(q.get("oldest", "0"))
        limit = min(int(q.get("limit", "100")), 999)
        start = int(q.get("cursor", "0") or 0)
        with self._lock:
            held = list(self.channels)
        if url.path.endswith("replies"):
            thread = q.get("ts")
            found = [m for m in held if m[0] == channel and (m[1] == thread or m[2] == thread)]
        else:
            found = [m for m in held if m[0] == channel and m[2] is None]
        found = [m for m in reversed(found) if float(m[1]) > oldest]
        page = found[start:start + limit]
        messages = []
        for _, ts, thread_ts, body in page:
            m = {"type": "message", "ts": ts, "text": body.get("text", "")}
            if thread_ts:
                m["thread_ts"] = thread_ts
            if "metadata" in body and q.get("include_all_metadata") == "true":
                m["metadata"] = body["metadata"]
            messages.append(m)
        more = start + limit < len(found)
        return 200, {}, json.dumps({"ok": True, "messages": messages, "has_more": more,
                                    "response_metadata": {"next_cursor": str(start + limit) if more else ""}})

    def _answer(self, path: str, auth: str, body: dict | None) -> tuple[int, dict[str, str], str]:
        if self._script:
            return self._script.pop(0)
        if path == "/api/chat.postMessage":
            if auth != f"Bearer {BOT_TOKEN}":
                return 200, {}, json.dumps({"ok": False, "error": "invalid_auth"})
            if not body or not body.get("channel"):
                return 200, {}, json.dumps({"ok": False, "error": "channel_not_found"})
            if violations(body):
                return 200, {}, json.dumps({"ok": False, "error": "invalid_blocks"})
            ts = f"{time.time():.0f}.{next(self._ts):06d}"
            with self._lock:
                self.channels.append((body["channel"], ts, body.get("thread_ts"), body))
            return 200, {}, json.dumps({"ok": True, "channel": body["channel"], "ts": ts, "message": {"ts": ts}})
        if path == WEBHOOK_PATH:
            if not body or violations(body):
                return 400, {}, "invalid_blocks"
            return 200, {}, "ok"
        return 404, {}, "no_service"

    def delivered(self) -> list[dict]:
        """The messages Slack accepted, in order (what people see in the channel)."""
        return [r.body for r in self.requests
                if r.body is not None and r.status == 200 and (r.answer == "ok" or json.loads(r.answer).get("ok"))]

    def close(self) -> None:
        self._server.shutdown()

    def __enter__(self) -> "SlackStub":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def secret_env(emu, stub: SlackStub, mode: str, table: str, channels: str | None = None, **extra: str) -> dict[str, str]:
    """Store the webhook URL or bot token in the emulator's Secrets Manager; the function's env."""
    value = stub.webhook_url if mode == "webhook" else BOT_TOKEN
    arn = emu.client("secretsmanager").create_secret(Name=f"slack-{mode}", SecretString=value)["ARN"]
    env = {**emu.function_env(), "SLACK_SECRET_ARN": arn, "DELIVERIES_TABLE": table, "SLACK_API_URL": stub.api_url, **extra}
    if channels:
        env["SLACK_CHANNELS"] = channels
    return env


# --- how a message reads in the channel ------------------------------------------------------

_LINK = re.compile(r"<([^|>]+)\|([^>]+)>")


def _plain(mrkdwn: str) -> str:
    def link(m: re.Match) -> str:
        target, label = m.group(1), m.group(2)
        return label if target.startswith("!date^") else f"{label} ({target})"

    text = _LINK.sub(link, mrkdwn)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def render_text(message: dict) -> str:
    """The message's blocks as plain text, roughly as the Slack client lays them out."""
    lines: list[str] = []
    for b in message.get("blocks", []):
        if b["type"] == "header":
            lines.append(b["text"]["text"])
            lines.append("-" * min(len(b["text"]["text"]), 72))
        elif b["type"] == "section" and "text" in b:
            lines.extend(_plain(b["text"]["text"]).splitlines())
        elif b["type"] == "section":
            for f in b["fields"]:
                label, _, value = _plain(f["text"]).partition("\n")
                lines.append(f"  {label.strip('*')}: {value.strip('`')}")
        elif b["type"] == "context":
            lines.append(" | ".join(_plain(e["text"]) for e in b["elements"]))
    return "\n".join(lines)
