"""CloudFormation's side of a custom resource: the request it sends the function, and a local
server standing in for the presigned S3 ``ResponseURL`` the answer is PUT to.

The stand-in holds the function to what CloudFormation documents: a ``PUT`` whose body is at most
4096 bytes of JSON with ``Status`` (``SUCCESS`` | ``FAILED``), ``Reason`` when failed, a non-empty
``PhysicalResourceId`` of at most 1 KB, and ``StackId``, ``RequestId`` and ``LogicalResourceId``
copied from the request. A presigned URL is signed without a content type, so a request that sets
one is refused as S3 refuses a signature mismatch (403).
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requests.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html
"""

from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/privatelink-autopilot/8c1d7a10-0000-4000-8000-000000000001"
MAX_BODY = 4096


class ResponseSink:
    """Records each answer PUT to it; ``fail_next(n)`` answers the next n with 500."""

    def __init__(self) -> None:
        self.answers: list[dict] = []
        self.refused: list[str] = []
        self._failures = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_PUT(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if sink._failures:
                    sink._failures -= 1
                    return self._reply(500)
                problem = sink._check(self.headers, body)
                if problem:
                    sink.refused.append(problem)
                    return self._reply(403 if "Content-Type" in problem else 400)
                sink.answers.append(json.loads(body))
                self._reply(200)

            def _reply(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail_next(self, n: int) -> None:
        self._failures = n

    @staticmethod
    def _check(headers, body: bytes) -> str | None:
        if headers.get("Content-Type"):
            return f"Content-Type {headers['Content-Type']!r} is not in the presigned URL's signature"
        if len(body) > MAX_BODY:
            return f"response body of {len(body)} bytes (at most {MAX_BODY})"
        try:
            doc = json.loads(body)
        except ValueError:
            return "response body is not JSON"
        if doc.get("Status") not in ("SUCCESS", "FAILED"):
            return f"Status {doc.get('Status')!r}"
        if doc["Status"] == "FAILED" and not doc.get("Reason"):
            return "FAILED without a Reason"
        physical = doc.get("PhysicalResourceId") or ""
        if not physical or len(physical.encode()) > 1024:
            return "PhysicalResourceId empty or over 1 KB"
        return None

    def close(self) -> None:
        self._server.shutdown()

    def __enter__(self) -> "ResponseSink":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def request(sink: ResponseSink, kind: str, properties: dict, physical: str | None = None,
            logical: str = "ConnectionNotifications") -> dict:
    """A custom resource request as CloudFormation sends it to the function."""
    request_id = str(uuid.uuid4())
    event = {
        "RequestType": kind,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:connection-notifications",
        "ResponseURL": f"{sink.url}/cloudformation-custom-resource-response/{request_id}?X-Amz-Signature=0",
        "StackId": STACK_ID,
        "RequestId": request_id,
        "ResourceType": "Custom::ConnectionNotifications",
        "LogicalResourceId": logical,
        "ResourceProperties": {"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:connection-notifications",
                               **properties},
    }
    if physical is not None:
        event["PhysicalResourceId"] = physical
    return event
