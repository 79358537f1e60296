"""Runs a function's real binary under a local implementation of the Lambda Runtime API.

The binary polls ``/2018-06-01/runtime/invocation/next`` exactly as it does in Lambda, so the
same ``bootstrap`` that ships is what the tests and the demo invoke. The process stays warm
between invocations, as a Lambda execution environment does.
https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
PREFIX = "/2018-06-01/runtime"


def binary(name: str, profile: str | None = None) -> Path:
    """The function's binary: ``FUNCTION_PROFILE`` (debug by default) under ``target/``."""
    profile = profile or os.environ.get("FUNCTION_PROFILE", "debug")
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    path = target / profile / name
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: build it with `cargo build{' --release' if profile == 'release' else ''} -p {name}`")
    return path


@dataclass
class Invocation:
    request_id: str
    ok: bool
    body: dict
    logs: list[str] = field(default_factory=list)

    @property
    def error_type(self) -> str | None:
        return None if self.ok else self.body.get("errorType")

    @property
    def error_message(self) -> str | None:
        return None if self.ok else self.body.get("errorMessage")


class LambdaHost:
    def __init__(self, name: str, env: dict[str, str], profile: str | None = None, timeout: float = 60,
                 command: list[str] | None = None) -> None:
        """``command`` runs instead of the function's binary (``{api}`` in it becomes the Runtime
        API's address): the benchmark's measure of what starting any process costs here."""
        self.name = name
        self.timeout = timeout
        self._events: queue.Queue = queue.Queue()
        self._results: dict[str, queue.Queue] = {}
        self._logs: list[str] = []
        self._init_error: dict | None = None
        # perf_counter() when the process was started and when it first asked for an event:
        # the function's init, as Lambda's INIT phase measures it.
        self.launched: float = 0.0
        self.first_poll: float | None = None
        host = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _reply(self, status: int, body: bytes = b"{}", headers: dict | None = None):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path != f"{PREFIX}/invocation/next":
                    return self._reply(404)
                if host.first_poll is None:
                    host.first_poll = time.perf_counter()
                request_id, payload = host._events.get()
                deadline = int((time.time() + host.timeout) * 1000)
                self._reply(200, payload, {
                    "Lambda-Runtime-Aws-Request-Id": request_id,
                    "Lambda-Runtime-Deadline-Ms": str(deadline),
                    "Lambda-Runtime-Invoked-Function-Arn": f"arn:aws:lambda:us-east-1:123456789012:function:{host.name}",
                    "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Sampled=0",
                    "Content-Type": "application/json",
                })

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = self.path[len(PREFIX):].strip("/").split("/")
                if parts == ["init", "error"]:
                    host._init_error = _json(body)
                    return self._reply(202)
                if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                    q = host._results.get(parts[1])
                    if q is None:
                        return self._reply(400)
                    q.put((parts[2] == "response", _json(body)))
                    return self._reply(202)
                return self._reply(404)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        port = self._server.server_address[1]
        proc_env = {
            "PATH": os.environ.get("PATH", ""),
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}",
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "local",
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            **env,
        }
        self.launched = time.perf_counter()
        argv = [a.replace("{api}", proc_env["AWS_LAMBDA_RUNTIME_API"]) for a in command] if command else [str(binary(name, profile))]
        self.process = subprocess.Popen(
            argv, env=proc_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self._log_reader = threading.Thread(target=self._collect_logs, daemon=True)
        self._log_reader.start()

    def _collect_logs(self) -> None:
        for line in self.process.stdout:
            self._logs.append(line.rstrip("\n"))

    def invoke(self, event: dict | str | bytes, log_grace: float = 0.05) -> Invocation:
        """Invoke once and wait for the function's response or error, then ``log_grace``
        seconds for its last log lines."""
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited ({self.process.returncode}): init error {self._init_error}\n" + "\n".join(self._logs))
        payload = event if isinstance(event, bytes) else (event.encode() if isinstance(event, str) else json.dumps(event).encode())
        request_id = str(uuid.uuid4())
        results: queue.Queue = queue.Queue()
        self._results[request_id] = results
        seen = len(self._logs)
        self._events.put((request_id, payload))
        deadline = time.time() + self.timeout
        while True:
            try:
                ok, body = results.get(timeout=0.2)
                break
            except queue.Empty:
                if self.process.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"{self.name} gave no answer (exit code {self.process.returncode}):\n" + "\n".join(self._logs[seen:]))
        time.sleep(log_grace)
        return Invocation(request_id, ok, body, self._logs[seen:])

    def wait_ready(self, timeout: float = 20) -> float:
        """Seconds from process start to its first request for an event (its init)."""
        deadline = time.perf_counter() + timeout
        while self.first_poll is None:
            if self.process.poll() is not None or time.perf_counter() > deadline:
                raise RuntimeError(f"{self.name} never asked for an event:\n" + "\n".join(self._logs))
            time.sleep(0.0005)
        return self.first_poll - self.launched

    @property
    def logs(self) -> list[str]:
        """Every line the process has written so far."""
        return list(self._logs)

    def invoke_async(self, event: dict, sqs, dead_letter_queue: str, retries: int = 2) -> list[Invocation]:
        """Invoke as SNS and EventBridge do (asynchronously): on an error Lambda tries again
        ``retries`` times, then sends the event to the function's dead-letter queue with the error
        in the ``ErrorMessage`` attribute. The delays between attempts are left out.
        https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html"""
        attempts = []
        for _ in range(retries + 1):
            attempts.append(self.invoke(event))
            if attempts[-1].ok:
                return attempts
        last = attempts[-1]
        sqs.send_message(QueueUrl=dead_letter_queue, MessageBody=json.dumps(event), MessageAttributes={
            "RequestID": {"DataType": "String", "StringValue": last.request_id},
            "ErrorCode": {"DataType": "Number", "StringValue": "200"},
            "ErrorMessage": {"DataType": "String", "StringValue": last.error_message or ""},
        })
        return attempts

    def wait_exit(self, timeout: float = 20) -> tuple[int, list[str]]:
        """Wait for the process to end (a failed cold start); its exit code and every log line."""
        code = self.process.wait(timeout=timeout)
        self._log_reader.join(timeout=5)
        return code, self._logs

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._server.shutdown()

    def __enter__(self) -> "LambdaHost":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _json(body: bytes):
    try:
        return json.loads(body or b"{}")
    except ValueError:
        return {"raw": body.decode(errors="replace")}
