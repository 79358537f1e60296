"""Route 53's request-rate throttling, as token buckets per account, opt-in.

"Throttling for Amazon Route 53 API requests" (developer guide, linked from "Quotas" →
"Maximums on API requests"):
https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/throttling-api-requests.html

* "Amazon Route 53 throttles API requests on a per-account basis"; "Amazon Route 53 uses a token
  bucket algorithm": a bucket holds at most its *maximum capacity* (the burst) and refills at a
  fixed *refill rate* per second; refill tokens arriving at a full bucket are discarded; a
  request can use a token as soon as it is added.
* Two levels: "all Amazon Route 53 API requests from your account draw from one bucket"
  (account level) and "each API operation also has its own bucket"; "requests consume tokens
  from both buckets, and are throttled if either bucket is empty."
* Request rate limits per API operation (maximum capacity / refill rate per second):
  all operations combined (account level) 50 / 10; any operation not listed (per-operation
  default) 50 / 10; ``AssociateVPCWithHostedZone`` 20 / 5; ``ChangeCidrCollection`` 40 / 5;
  ``CreateCidrCollection`` 40 / 5; ``CreateHealthCheck`` 50 / 0.5; ``CreateHostedZone`` 40 / 2;
  ``CreateReusableDelegationSet`` 40 / 2; ``CreateTrafficPolicyInstance`` 1 / 1;
  ``DisassociateVPCFromHostedZone`` 10 / 5 (this last row as quoted in ``shared/AWS-FACTS.md``;
  the stored copy of the page read for this module breaks off after
  ``CreateTrafficPolicyInstance``, so further rows of the table are not known here and those
  operations get the per-operation default — possibly kinder than AWS for them).
  ``CreateVPCAssociationAuthorization``, ``DeleteVPCAssociationAuthorization`` and
  ``ListVPCAssociationAuthorizations`` are not among the rows read: per-operation default.
* A throttled request: "HTTP 400 error (Bad request). The response header also includes a Code
  element with a value of Throttling and a Message element with a value of Rate exceeded." —
  written here as Route 53's REST-XML ``<ErrorResponse>`` (faults.error_response), which the AWS
  SDKs read as a throttling error and retry.

Before that update the developer guide's quotas page said "All requests: Five requests per second
per AWS account" (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DNSLimitations.html,
as archived; AWS's announcement "Introducing change-based throttling for Amazon Route 53 APIs":
"doubled its default API request rate from 5 to 10 requests per second"). That older, stricter
limit can be chosen as a number (below).

The setting ``route53_rate`` (``POST /_autopilot/settings``), off by default:

* ``null`` / ``false``: no throttling (moto's behaviour);
* ``true``: the documented buckets above, per account (the account is the one moto serves the
  request as: its access key's account);
* a number N > 0: one bucket per account, capacity N, refilled N per second, no per-operation
  buckets — ``5`` is the former "five requests per second per AWS account".

Changing the setting starts every bucket full again. Not modelled: the separate *change
throughput* limit on record changes (``ChangeResourceRecordSets``, not used by this project).
Whether a request refused by one bucket still takes a token from the other is not documented;
here a refused request takes none.
"""

from __future__ import annotations

import threading
import time

import faults
import settings

SERVICE = "route53"
ACCOUNT_BUCKET = (50, 10.0)
DEFAULT_OPERATION_BUCKET = (50, 10.0)
OPERATION_BUCKETS = {
    "AssociateVPCWithHostedZone": (20, 5.0),
    "ChangeCidrCollection": (40, 5.0),
    "CreateCidrCollection": (40, 5.0),
    "CreateHealthCheck": (50, 0.5),
    "CreateHostedZone": (40, 2.0),
    "CreateReusableDelegationSet": (40, 2.0),
    "CreateTrafficPolicyInstance": (1, 1.0),
    "DisassociateVPCFromHostedZone": (10, 5.0),
}
THROTTLED = ("Throttling", "Rate exceeded", 400)



def _check_rate(value) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and value > 0:
        return None
    return "takes null or false (off), true (Route 53's documented buckets) or a number > 0 (one bucket per account of that size and rate)"


class Bucket:
    def __init__(self, capacity: float, rate: float, now: float) -> None:
        self.capacity = float(capacity)
        self.rate = float(rate)
        self.tokens = float(capacity)
        self.stamp = now

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now


_lock = threading.Lock()
_buckets: dict[tuple[str, str], Bucket] = {}
_mode: list = [None]  # the setting the buckets were made for


def buckets_for(mode, account: str, operation: str) -> list[tuple[str, tuple[float, float]]]:
    """(bucket key, (capacity, rate)) of each bucket a request of ``operation`` draws from."""
    if mode is True:
        return [("*", ACCOUNT_BUCKET), (operation, OPERATION_BUCKETS.get(operation, DEFAULT_OPERATION_BUCKET))]
    return [("*", (mode, mode))]


def admit(mode, account: str, operation: str, now: float | None = None) -> bool:
    """Whether a request is within the rate; if so, its tokens are taken."""
    now = time.monotonic() if now is None else now
    with _lock:
        if _mode[0] != mode:
            _buckets.clear()
            _mode[0] = mode
        drawn = []
        for key, (capacity, rate) in buckets_for(mode, account, operation):
            bucket = _buckets.get((account, key))
            if bucket is None:
                bucket = _buckets[(account, key)] = Bucket(capacity, rate, now)
            bucket.refill(now)
            drawn.append(bucket)
        if any(b.tokens < 1 for b in drawn):
            return False
        for b in drawn:
            b.tokens -= 1
        return True


def throttle(request: faults.Request):
    mode = settings.get("route53_rate")
    if request.service != SERVICE or mode is None or mode is False:
        return None
    if admit(mode, faults.account_of(request), request.operation):
        return None
    return THROTTLED


def install() -> None:
    """Register ``route53_rate`` in the settings and the throttle in front of moto.
    Call before the server starts."""
    settings.declare("route53_rate", None, _check_rate)
    faults.THROTTLES.append(throttle)
