"""Per-call latency, opt-in, so that a chain of sequential calls shows what it costs.

moto answers on the loopback in about a millisecond; an AWS API call from a Lambda function takes
tens of milliseconds or more. AWS publishes no latency figures for its APIs, so none is assumed:
the delay is whatever a test chooses.

The setting ``latency_ms`` (``POST /_autopilot/settings``), off by default:

* ``null`` / ``0`` / ``{}``: no added latency;
* a number N > 0: every AWS call is answered N milliseconds later than it would be;
* a JSON object ``{"<signing name>:<Operation>": ms, "<signing name>": ms}``: the delay of the
  calls it names — the ``service:Operation`` entry first, else the service's, else none
  (``elbv2`` is accepted for ``elasticloadbalancing``, as in the fault rules).

The delay comes before anything else answers the call — throttles and fault rules included, as an
error from AWS also takes a round trip — and counts in the call's ``seconds`` in
``GET /_autopilot/calls``.
"""

from __future__ import annotations

import time

import faults
import settings



def _check_latency(value) -> str | None:
    def number(v) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0

    if value is None or number(value):
        return None
    if isinstance(value, dict) and all(isinstance(k, str) and k and number(v) for k, v in value.items()):
        return None
    return ('takes null, a number of milliseconds >= 0 for every call, or an object {"<service>:<Operation>": ms, '
            '"<service>": ms}')


def _normal(key: str) -> str:
    service, sep, operation = key.partition(":")
    return faults.ALIASES.get(service, service) + sep + operation


def delay_ms(request: faults.Request) -> float:
    value = settings.get("latency_ms")
    if not value:
        return 0.0
    if not isinstance(value, dict):
        return float(value)
    table = {_normal(k): v for k, v in value.items()}
    return float(table.get(request.key, table.get(request.service, 0)))


def before(request: faults.Request) -> None:
    ms = delay_ms(request)
    if ms > 0:
        time.sleep(ms / 1000.0)


def install() -> None:
    """Register ``latency_ms`` in the settings and the delay in front of every call.
    Call before the server starts."""
    settings.declare("latency_ms", None, _check_latency)
    faults.BEFORE.append(before)
