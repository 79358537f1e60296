"""The local AWS emulator: moto's server plus ``tests/emulator``, one process per instance.

Each instance is its own server on its own port, so tests running in parallel never see each
other's state. If the server cannot start, :class:`EmulatorError` says why; nothing is skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import boto3
from botocore.config import Config

REGION = "us-east-1"
PROVIDER = "123456789012"  # moto's default account: requests signed with plain keys land here
SERVER = Path(__file__).resolve().parent.parent / "emulator" / "server.py"
START_TIMEOUT = 60


class EmulatorError(RuntimeError):
    pass


class Emulator:
    """``target_health_scale`` (default 0): how fast ELB target health moves on — a registered
    target is ``initial`` and a deregistered one ``draining`` for their documented durations
    times this factor. The server's own default is 1.0 (real time, as AWS); the harness starts
    every emulator at 0, so that targets are ``healthy`` at once and deregistered ones gone at
    once, as the end-to-end tests expect. Pass e.g. ``0.01`` (or call
    ``settings(target_health_scale=...)`` later) to watch the states go by."""

    def __init__(self, target_health_scale: float = 0.0) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "MOTO_ACCOUNT_ID"}
        try:
            self.process = subprocess.Popen(
                [sys.executable, str(SERVER)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
        except OSError as e:
            raise EmulatorError(f"could not run the emulator ({sys.executable} {SERVER}): {e}") from e
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(START_TIMEOUT)
        if not line or not line[0].startswith("READY "):
            self.process.kill()
            _, err = self.process.communicate(timeout=10)
            hint = "is moto[server] installed? run `make venv`" if "No module named" in err else ""
            raise EmulatorError(f"the emulator did not start within {START_TIMEOUT}s {hint}\n{err[-3000:]}")
        self.url = line[0].split()[1]
        # Drain stderr so the server never blocks on a full pipe.
        threading.Thread(target=self.process.stderr.read, daemon=True).start()
        self._credentials = {PROVIDER: ("testing", "testing", None)}
        try:
            self.settings(target_health_scale=target_health_scale)
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def __enter__(self) -> "Emulator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def credentials(self, account: str) -> tuple[str, str, str | None]:
        """Credentials for ``account``: its own role session, as a cross-account caller would have."""
        if account not in self._credentials:
            sts = self.client("sts")
            c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/demo", RoleSessionName="harness")["Credentials"]
            self._credentials[account] = (c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
        return self._credentials[account]

    def client(self, service: str, account: str = PROVIDER, region: str = REGION, validate: bool = True):
        """A boto3 client of ``account`` in ``region``. ``validate=False`` turns off boto3's own
        check of parameters (ranges, required members) so that a request reaches the emulator as
        an SDK that does not check them (the AWS SDK for Rust) would send it."""
        key, secret, token = self._credentials.get(account) or self.credentials(account)
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            aws_session_token=token,
            config=Config(retries={"max_attempts": 2}, parameter_validation=validate),
        )

    def function_env(self) -> dict[str, str]:
        """What a function needs to reach this emulator as the provider account."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    # --- fault injection, call accounting, settings (tests/emulator/faults.py) ---------------

    def _control(self, method: str, path: str, payload=None):
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(f"{self.url}/_autopilot/{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as e:
            raise EmulatorError(f"{method} /_autopilot/{path}: {e.code} {e.read().decode(errors='replace')}") from e

    def faults(self, rules: list[dict]) -> None:
        """Replace the fault rules (``[]`` clears them). A rule: ``{"service": "sns",
        "operation": "Publish", "code": "InternalError", "status": 500, "message": "...",
        "times": 1, "skip": 0, "match": "..."}``, or ``"unsuccessful": true`` (EC2 Accept/Reject
        VpcEndpointConnections) / ``"unprocessed": true`` (DynamoDB BatchWriteItem/BatchGetItem)
        instead of an error. See tests/emulator/faults.py."""
        self._control("POST", "faults", rules)

    def fault_rules(self) -> list[dict]:
        """The current rules, with how often each was skipped and fired and what is left."""
        return self._control("GET", "faults")

    def calls(self) -> dict:
        """``{"<service>:<Operation>": {"count": n, "seconds": s, "faulted": f, "throttled": t}}``
        since the last reset; the service is the SigV4 signing name (``elasticloadbalancing`` for
        ELBv2); ``throttled`` counts requests refused by ``route53_rate``, ``elb_rate`` or
        ``ec2_rate``; ``seconds`` includes any ``latency_ms``."""
        return self._control("GET", "calls")

    def reset_calls(self) -> None:
        self._control("POST", "calls/reset", {})

    def settings(self, **changes) -> dict:
        """Change emulator settings and return them all. Every setting is off (or AWS's own
        behaviour) until set, except ``target_health_scale`` (see the class):

        * ``accept_seconds``: how long an accepted connection stays ``pending``;
          ``visible_after_seconds``: how long a new connection is not yet shown by
          DescribeVpcEndpointConnections — tests/emulator/privatelink.py.
        * ``page_size``: the most items any page of the paged describe calls holds, ``None`` for
          AWS's own pages — tests/emulator/paging.py.
        * ``route53_rate``: ``None`` (off), ``True`` (Route 53's documented token buckets per
          account) or a number N (one bucket per account, N per second, burst N) —
          tests/emulator/route53_throttling.py; ``route53_change_seconds``: how long a hosted
          zone stays "being changed" after an authorization or association change, answering
          ``ConcurrentModification`` / ``PriorRequestNotComplete`` meanwhile —
          tests/emulator/route53_sharing.py.
        * ``elb_rate``: ``None`` / ``False`` (off, the default), ``True`` (ELB's documented token
          buckets per account, region and API version: an account bucket of 40 refilled 10 a
          second shared by every action, and a bucket per category — ``Describe*`` 40 / 10,
          Register/DeregisterTargets 20 / 4, other mutating actions 20 / 3, CreateLoadBalancer and
          SetSubnets 10 / 0.2) or a number N (one bucket per account and region, burst N, N per
          second); a refused call is HTTP 400 ``Throttling`` "Rate exceeded" —
          tests/emulator/elb_throttling.py.
        * ``ec2_rate``: ``None`` / ``False`` (off, the default), ``True`` (EC2's documented token
          buckets per account, region and action: non-mutating 100 / 20, DescribeInstances and
          the like unfiltered and unpaginated 50 / 10, mutating 50 / 5, Accept/Reject
          VpcEndpointConnections 10 / 1 and the page's other per-action figures, plus the
          resource buckets of Run/Start/Stop/TerminateInstances) or a number N (one bucket per
          account and region); a refused call is HTTP 503 ``RequestLimitExceeded`` —
          tests/emulator/ec2_throttling.py.
        * ``target_health_scale``: a number >= 0 multiplying how long a target stays ``initial``
          (its group's HealthCheckIntervalSeconds × HealthyThresholdCount) and ``draining`` (its
          group's ``deregistration_delay.timeout_seconds``): 1.0 real time (the server's default),
          0 at once (this harness's default) — tests/emulator/target_health.py.
        * ``latency_ms``: ``None`` / ``0`` (off, the default), a number of milliseconds added to
          every AWS call, or ``{"<signing name>:<Operation>": ms, "<signing name>": ms}`` for the
          calls named (``elbv2`` is accepted for ``elasticloadbalancing``) —
          tests/emulator/latency.py.

        Changing a rate setting starts all its buckets full again."""
        return self._control("POST", "settings", changes) if changes else self._control("GET", "settings")

    def share_vpc(self, vpc: str, owner: str, with_account: str, region: str | None = None) -> list[str]:
        """Share ``owner``'s VPC into ``with_account`` as VPC sharing through RAM does: the
        participant's DescribeVpcs lists it with the owner's ``OwnerId`` (without the owner's
        tags); the participant cannot tag it or associate it with a hosted zone. Returns the
        VPC's participants. See tests/emulator/vpc_sharing.py."""
        payload = {"vpc": vpc, "owner": owner, "with": with_account, **({"region": region} if region else {})}
        return self._control("POST", "share-vpc", payload)["participants"]

    def unshare_vpc(self, vpc: str, owner: str, with_account: str, region: str | None = None) -> list[str]:
        """End a share made by :meth:`share_vpc`; returns the VPC's remaining participants."""
        payload = {"vpc": vpc, "owner": owner, "with": with_account, **({"region": region} if region else {})}
        return self._control("POST", "unshare-vpc", payload)["participants"]
