"""Fault injection and call accounting in front of moto's server.

Every AWS request is named ``(service, operation)``: the service from the SigV4 credential scope
(``Credential=AKID/date/region/<service>/aws4_request``, in the ``Authorization`` header or a
presigned URL's ``X-Amz-Credential``), the operation from ``X-Amz-Target`` (JSON protocols: the
part after the last ``.``), else the ``Action`` parameter (query protocols), else, for REST
services such as Route 53, the operation whose documented ``requestUri`` and method match the
request (read from botocore's copy of the service model), else ``"<METHOD> <path>"`` with ids
replaced by ``{id}``. Signing and credential scope:
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv4-signed-request-elements.html

Control endpoints, on the same server under ``/_autopilot/`` (no AWS API path starts so):

* ``GET /_autopilot/calls`` → ``{"<service>:<Operation>": {"count": n, "seconds": s,
  "faulted": f, "throttled": t}}`` — calls answered, seconds spent answering them (any added
  ``latency_ms`` included), how many of them were answered by a fault rule, and how many were
  refused by a rate limit an extension registered in :data:`THROTTLES` (route53_throttling.py,
  elb_throttling.py, ec2_throttling.py, resolver_sharing.py); ``POST /_autopilot/calls/reset`` forgets them.
* ``POST /_autopilot/faults`` with a JSON list of rules replaces the current rules (``[]``
  clears them); ``GET /_autopilot/faults`` shows them with what is left of each.
* ``POST /_autopilot/settings`` with a JSON object changes settings the extensions registered
  (``accept_seconds`` and ``visible_after_seconds`` for PrivateLink, ``page_size`` for paging,
  ``route53_rate`` and ``route53_change_seconds`` for Route 53, ``elb_rate`` for ELB,
  ``ec2_rate`` for EC2, ``target_health_scale`` for target health (target_health.py),
  ``resolver_rate``, ``resolver_association_seconds``, ``resolver_failing_vpcs`` and
  ``resolver_associations_per_region`` for Route 53 Resolver (resolver_sharing.py),
  ``latency_ms`` for every call (latency.py)); ``GET`` shows them. A setting takes a number
  >= 0 unless its extension declared its own check (one registry: settings.py).
* Further endpoints extensions registered in :data:`CONTROLS` (``POST /_autopilot/share-vpc``,
  ``POST /_autopilot/unshare-vpc``: vpc_sharing.py).

A rule::

    {"service": "sns", "operation": "Publish", "code": "InternalError", "status": 500,
     "message": "...", "times": 1, "skip": 0, "match": "substring"}

``service`` is the signing name (``elbv2`` is accepted for ``elasticloadbalancing``);
``operation`` may be left out or ``"*"`` for every operation of the service. ``match``, when
given, must occur in the request: its body as sent or URL-decoded, or its path and query
string. Of the requests a rule matches, the first ``skip`` go through; the next ``times`` (default
1; ``-1`` = always) are answered with the error; the rule is then spent. Rules are tried in order
and the first that fires answers. Defaults: ``status`` 400, ``message`` the code.

The error is written in the service's own wire format, so that boto3 and the AWS SDK for Rust
read its code as they read AWS's:

* EC2 (its own query protocol): ``<Response><Errors><Error><Code/><Message/></Error></Errors>
  <RequestID/></Response>`` —
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
* other query services (SNS, ELBv2, STS, SQS query) and Route 53 (REST-XML):
  ``<ErrorResponse><Error><Type>Sender|Receiver</Type><Code/><Message/></Error><RequestId/>
  </ErrorResponse>``, ``Receiver`` for 5xx —
  https://docs.aws.amazon.com/sns/latest/api/CommonErrors.html
  https://docs.aws.amazon.com/sns/latest/api/API_Publish.html
  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-api-responses.html
  https://docs.aws.amazon.com/Route53/latest/APIReference/requests-rest-responses.html
* JSON 1.0 (DynamoDB): ``{"__type": "com.amazonaws.dynamodb.v20120810#<Code>", "message": ...}``
  as ``application/x-amz-json-1.0`` —
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html
* JSON 1.1 (SSM, Secrets Manager): ``{"__type": "<Code>", "message": ...}`` as
  ``application/x-amz-json-1.1`` —
  https://docs.aws.amazon.com/systems-manager/latest/APIReference/CommonErrors.html

``"lost": true`` carries the request out first and answers the error after: an answer lost on
the way back (a timeout, a 5xx from a front end), which AWS's SDKs retry and after which the
call's effect stands — the case behind "[RSLVR-00802] … same domain name" on a retried
AssociateResolverRule (``shared/AWS-FACTS.md``). The SDK retry guidance treats such answers as
retryable: https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html

Two rule forms answer 200 instead, as AWS documents it may, and are carried out by the
extension that serves the operation, after its own validation (see :func:`take`):

* ``"unsuccessful": true`` on EC2 ``AcceptVpcEndpointConnections`` /
  ``RejectVpcEndpointConnections``: every requested id comes back as an ``Unsuccessful`` item
  with the rule's ``code`` (default ``InternalError``) and ``message``; nothing changes —
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_AcceptVpcEndpointConnections.html
* ``"unprocessed": true`` on DynamoDB ``BatchWriteItem`` / ``BatchGetItem``: every item or key
  comes back in ``UnprocessedItems`` / ``UnprocessedKeys``; nothing is written or read —
  https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchWriteItem.html
  https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
import uuid
from urllib.parse import parse_qs, unquote_plus
from xml.sax.saxutils import escape

from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

import settings

CONTROL = "/_autopilot/"
ALIASES = {"elbv2": "elasticloadbalancing"}
# Signing names whose botocore model has another name (REST services only need this).
MODEL_NAMES = {"route53": "route53"}
RULE_KEYS = {"service", "operation", "code", "status", "message", "times", "skip", "match",
             "unsuccessful", "unprocessed", "lost"}
DEFERRED = {
    "unsuccessful": {("ec2", "AcceptVpcEndpointConnections"), ("ec2", "RejectVpcEndpointConnections")},
    "unprocessed": {("dynamodb", "BatchWriteItem"), ("dynamodb", "BatchGetItem")},
}


# --- naming a request --------------------------------------------------------------------------


class Request:
    def __init__(self, service: str, operation: str, protocol: str, haystack: str,
                 params: dict | None = None) -> None:
        self.service = service
        self.operation = operation
        self.protocol = protocol  # ec2 | query | json1.0 | json1.1 | rest-xml | rest-json
        self.haystack = haystack
        # Query protocols (EC2, ELB, SNS, ...): the request's parameters, first value of each.
        self.params: dict[str, str] = params or {}
        self.faulted = False
        self.throttled = False
        self.access_key: str | None = None
        self.account_header: str | None = None
        self.region = "us-east-1"  # the credential scope's region

    @property
    def key(self) -> str:
        return f"{self.service}:{self.operation}"


_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")
_session = None
_routes: dict[str, list] = {}
_routes_lock = threading.Lock()


def _rest_routes(service: str) -> list[tuple[str, re.Pattern, list[str], int, str]]:
    """(method, path regex, required query keys, literal length, operation) for each operation of
    a REST service, from botocore's service model; [] when there is none."""
    with _routes_lock:
        if service in _routes:
            return _routes[service]
        global _session
        routes = []
        try:
            import botocore.session

            _session = _session or botocore.session.get_session()
            model = _session.get_service_model(MODEL_NAMES.get(service, service))
            for name in model.operation_names:
                http = model.operation_model(name).http
                path, _, query = http.get("requestUri", "/").partition("?")
                parts = re.split(r"(\{[^}]+\})", path)
                rx = "".join((".+" if p.endswith("+}") else "[^/]+") if p.startswith("{") else re.escape(p) for p in parts)
                keys = [q.split("=")[0] for q in query.split("&") if q]
                literal = sum(len(p) for p in parts if not p.startswith("{")) + len(query)
                routes.append((http.get("method", "GET"), re.compile("^" + rx.rstrip("/") + "/?$"), keys, literal, name))
            routes.sort(key=lambda r: -r[3])
        except Exception:  # no model for that name: fall back to method and path
            routes = []
        _routes[service] = routes
        return routes


_protocols: dict[str, str] = {}


def _rest_protocol(service: str) -> str:
    if service not in _protocols:
        try:
            _rest_routes(service)
            _protocols[service] = _session.get_service_model(MODEL_NAMES.get(service, service)).metadata["protocol"]
        except Exception:
            _protocols[service] = "rest-xml"
    return _protocols[service]


def identify(environ: dict, body: bytes) -> Request:
    query_string = environ.get("QUERY_STRING", "")
    query = parse_qs(query_string, keep_blank_values=True)
    found = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    access_key = region = None
    if found:
        service, access_key, region = found.group(4), found.group(1), found.group(3)
    elif query.get("X-Amz-Credential"):
        parts = query["X-Amz-Credential"][0].split("/")
        service = parts[3] if len(parts) > 3 else "unknown"
        access_key = parts[0]
        region = parts[2] if len(parts) > 2 else None
    else:
        service = "unknown"
    request = _identify(environ, body, query, query_string, service)
    request.access_key = access_key
    request.region = region or request.region
    request.account_header = environ.get("HTTP_X_MOTO_ACCOUNT_ID")
    return request


def account_of(request: Request) -> str:
    """The account a request acts as, as moto decides it (``x-moto-account-id``, else the access
    key's account, else moto's default account)."""
    if request.account_header:
        return request.account_header
    from moto.iam.models import get_account_id_from

    return get_account_id_from(request.access_key or "AKIAEXAMPLE")


def _identify(environ: dict, body: bytes, query: dict, query_string: str, service: str) -> Request:
    text = body.decode("utf-8", errors="replace")
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO", "/")
    haystack = f"{method} {path}?{query_string}\n{text}\n{unquote_plus(text)}"
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        version = "1.0" if "1.0" in environ.get("CONTENT_TYPE", "") else "1.1"
        return Request(service, target.rsplit(".", 1)[-1], f"json{version}", haystack)
    params = {k: v[0] for k, v in query.items() if v}
    if "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        params.update({k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items() if v})
    action = params.get("Action")
    if action:
        return Request(service, action, "ec2" if service == "ec2" else "query", haystack, params)
    operation = None
    for verb, rx, keys, _, name in _rest_routes(service):
        if verb == method and rx.match(path) and all(k in query for k in keys):
            operation = name
            break
    if operation is None:
        operation = f"{method} " + "/".join(
            "{id}" if re.search(r"\d", seg) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", seg) else seg
            for seg in path.split("/"))
    return Request(service, operation, _rest_protocol(service), haystack)


# --- error bodies ------------------------------------------------------------------------------


def error_response(request: Request, code: str, message: str, status: int) -> tuple[str, list, bytes]:
    rid = str(uuid.uuid4())
    code_x, message_x = escape(code), escape(message)
    if request.protocol == "ec2":
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>{code_x}</Code>'
                f"<Message>{message_x}</Message></Error></Errors><RequestID>{rid}</RequestID></Response>")
        headers = [("Content-Type", "text/xml;charset=UTF-8")]
    elif request.protocol.startswith("json"):
        version = request.protocol[4:]
        kind = f"com.amazonaws.dynamodb.v20120810#{code}" if request.service == "dynamodb" else code
        body = json.dumps({"__type": kind, "message": message})
        headers = [("Content-Type", f"application/x-amz-json-{version}"), ("x-amzn-RequestId", rid)]
    elif request.protocol == "rest-json":
        body = json.dumps({"message": message})
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", code), ("x-amzn-RequestId", rid)]
    else:  # query protocols and REST-XML
        kind = "Receiver" if status >= 500 else "Sender"
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse><Error><Type>{kind}</Type>'
                f"<Code>{code_x}</Code><Message>{message_x}</Message></Error>"
                f"<RequestId>{rid}</RequestId></ErrorResponse>")
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", rid), ("x-amz-request-id", rid)]
    data = body.encode("utf-8")
    headers.append(("Content-Length", str(len(data))))
    return f"{status} {_REASONS.get(status, 'Error')}", headers, data


_REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict", 429: "Too Many Requests",
            500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


# --- rules and counters ------------------------------------------------------------------------


class RuleError(ValueError):
    pass


class Rule:
    def __init__(self, spec: dict) -> None:
        if not isinstance(spec, dict):
            raise RuleError(f"a rule is a JSON object, not {spec!r}")
        unknown = set(spec) - RULE_KEYS
        if unknown:
            raise RuleError(f"unknown rule keys {sorted(unknown)}; known: {sorted(RULE_KEYS)}")
        if not isinstance(spec.get("service"), str) or not spec["service"]:
            raise RuleError(f"a rule needs a service: {spec}")
        self.spec = dict(spec)
        self.service = ALIASES.get(spec["service"], spec["service"])
        self.operation = spec.get("operation") or "*"
        self.kind = next((k for k in DEFERRED if spec.get(k)), None)
        if spec.get("unsuccessful") and spec.get("unprocessed"):
            raise RuleError("a rule is unsuccessful or unprocessed, not both")
        if self.kind and (self.service, self.operation) not in DEFERRED[self.kind]:
            allowed = sorted(f"{s}:{o}" for s, o in DEFERRED[self.kind])
            raise RuleError(f'"{self.kind}" applies to {allowed} only, not {self.service}:{self.operation}')
        if self.kind is None and not isinstance(spec.get("code"), str):
            raise RuleError(f"an error rule needs a code: {spec}")
        self.code = spec.get("code") or "InternalError"
        self.status = int(spec.get("status", 400))
        if not 300 <= self.status <= 599:
            raise RuleError(f"status {self.status} is not an error status")
        self.message = spec.get("message") or ("An internal error has occurred" if self.code == "InternalError" else self.code)
        self.times = int(spec.get("times", 1))
        self.skip = int(spec.get("skip", 0))
        if self.skip < 0 or self.times < -1:
            raise RuleError("skip must be >= 0 and times >= -1")
        self.match = spec.get("match")
        self.skipped = 0
        self.fired = 0

    def matches(self, request: Request, kind: str | None) -> bool:
        return (self.kind == kind and self.service == request.service
                and self.operation in ("*", request.operation)
                and (self.match is None or self.match in request.haystack))

    def fire(self) -> bool:
        """Called for a matching request: whether this one is answered by the rule."""
        if self.skipped < self.skip:
            self.skipped += 1
            return False
        if self.times != -1 and self.fired >= self.times:
            return False
        self.fired += 1
        return True

    def describe(self) -> dict:
        left = "always" if self.times == -1 else self.times - self.fired
        return {**self.spec, "skipped": self.skipped, "fired": self.fired, "left": left}


# Called with every AWS request before anything else (the throttles included), e.g. to add
# latency (latency.py). Extensions register before the server starts.
BEFORE: list = []

# Rate limits in front of moto: each is check(request) -> (code, message, status) or None, tried
# in order for every AWS request before the fault rules; a request one of them answers is counted
# as ``throttled`` and never reaches the rules or moto. Extensions register before the server starts.
THROTTLES: list = []

# Further control endpoints: (method, path under /_autopilot/) -> handler(payload) -> JSON-able
# result; a handler raises RuleError (or ValueError) for a bad request (answered 400).
CONTROLS: dict = {}

_lock = threading.Lock()
_rules: list[Rule] = []
_calls: dict[str, dict] = {}
_local = threading.local()


def set_rules(specs) -> list[Rule]:
    if not isinstance(specs, list):
        raise RuleError("POST a JSON list of rules ([] clears them)")
    rules = [Rule(s) for s in specs]
    with _lock:
        _rules[:] = rules
    return rules


def _take(request: Request | None, kind: str | None) -> Rule | None:
    if request is None:
        return None
    with _lock:
        for rule in _rules:
            if rule.matches(request, kind) and rule.fire():
                request.faulted = True
                return rule
    return None


def take(kind: str) -> Rule | None:
    """For an extension serving the current request: the ``unsuccessful`` / ``unprocessed`` rule
    that answers it, if one does (it is then spent for this request). Call it after the
    operation's own validation, so that a refused request stays refused."""
    return _take(getattr(_local, "request", None), kind)


def _record(request: Request, seconds: float) -> None:
    with _lock:
        entry = _calls.setdefault(request.key, {"count": 0, "seconds": 0.0, "faulted": 0, "throttled": 0})
        entry["count"] += 1
        entry["seconds"] += seconds
        entry["faulted"] += int(request.faulted)
        entry["throttled"] += int(request.throttled)


# --- the middleware ----------------------------------------------------------------------------


def _read_body(environ: dict) -> bytes:
    stream = environ.get("wsgi.input")
    length = environ.get("CONTENT_LENGTH")
    if stream is None:
        return b""
    if length:
        body = stream.read(int(length))
    elif environ.get("wsgi.input_terminated"):  # chunked: werkzeug ends the stream for us
        body = stream.read()
        if body:
            environ["CONTENT_LENGTH"] = str(len(body))
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _json(start_response, status: str, payload) -> list[bytes]:
    data = json.dumps(payload, indent=1, sort_keys=True).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


class Middleware:
    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL):
            return self.control(environ, start_response, path[len(CONTROL):].strip("/"))
        if path.startswith("/moto-api"):
            return self.app(environ, start_response)
        started = time.perf_counter()
        request = identify(environ, _read_body(environ))
        _local.request = request
        try:
            for hook in BEFORE:
                hook(request)
            for throttle in THROTTLES:
                answer = throttle(request)
                if answer is not None:
                    request.throttled = True
                    status, headers, data = error_response(request, *answer)
                    start_response(status, headers)
                    return [data]
            rule = _take(request, None)
            if rule is not None:
                if rule.spec.get("lost"):
                    done = self.app(environ, lambda *args, **kwargs: None)
                    try:
                        b"".join(done)
                    finally:
                        if hasattr(done, "close"):
                            done.close()
                status, headers, data = error_response(request, rule.code, rule.message, rule.status)
                start_response(status, headers)
                return [data]
            result = self.app(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                if hasattr(result, "close"):
                    result.close()
        finally:
            _local.request = None
            _record(request, time.perf_counter() - started)

    def control(self, environ, start_response, what: str):
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            if what == "calls" and method == "GET":
                with _lock:
                    return _json(start_response, "200 OK", {k: dict(v) for k, v in _calls.items()})
            if what == "calls/reset" and method == "POST":
                with _lock:
                    _calls.clear()
                return _json(start_response, "200 OK", {})
            if what == "faults" and method == "GET":
                with _lock:
                    return _json(start_response, "200 OK", [r.describe() for r in _rules])
            if what == "faults" and method == "POST":
                rules = set_rules(json.loads(_read_body(environ) or b"null"))
                return _json(start_response, "200 OK", {"rules": len(rules)})
            if what == "settings" and method == "GET":
                return _json(start_response, "200 OK", settings.VALUES)
            if what == "settings" and method == "POST":
                changes = json.loads(_read_body(environ) or b"null")
                if not isinstance(changes, dict):
                    raise RuleError("POST a JSON object of settings")
                for name, value in changes.items():
                    wrong = settings.problem(name, value)
                    if wrong:
                        raise RuleError(wrong)
                settings.VALUES.update(changes)
                return _json(start_response, "200 OK", settings.VALUES)
            handler = CONTROLS.get((method, what))
            if handler is not None:
                return _json(start_response, "200 OK", handler(json.loads(_read_body(environ) or b"null")))
        except (RuleError, ValueError, TypeError) as e:
            return _json(start_response, "400 Bad Request", {"error": str(e)})
        return _json(start_response, "404 Not Found", {"error": f"no control endpoint {method} {CONTROL}{what}"})


class AutopilotServer(ThreadedMotoServer):
    """moto's threaded server with :class:`Middleware` in front of its WSGI app."""

    def _server_entry(self) -> None:
        app = Middleware(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._ip_address, self._port, app, True)
        self._server_ready_event.set()
        self._server.serve_forever()
