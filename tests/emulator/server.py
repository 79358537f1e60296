"""Start moto's server with this project's extensions on 127.0.0.1 and a free port.

Requests pass through ``faults.Middleware`` (fault injection, call accounting and the
``/_autopilot/`` control endpoints) before moto sees them.

Prints ``READY http://127.0.0.1:<port>`` once it serves, then runs until its standard input closes
(so it never outlives the harness that started it) or it is terminated.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import availability_zones  # noqa: E402
import ec2_throttling  # noqa: E402
import elb_throttling  # noqa: E402
import faults  # noqa: E402
import latency  # noqa: E402
import limits  # noqa: E402
import paging  # noqa: E402
import privatelink  # noqa: E402
import resolver_sharing  # noqa: E402
import route53_sharing  # noqa: E402
import route53_throttling  # noqa: E402
import target_health  # noqa: E402
import vpc_sharing  # noqa: E402

if os.environ.get("MOTO_ACCOUNT_ID"):
    sys.exit("MOTO_ACCOUNT_ID must not be set: it turns off moto's multiple accounts")

# Each extension declares its settings in one registry (settings.py) as it installs.
availability_zones.install()
target_health.install()  # after availability_zones: it wraps its health rules
privatelink.install()
route53_sharing.install()
resolver_sharing.install()
route53_throttling.install()
elb_throttling.install()
ec2_throttling.install()
latency.install()
limits.install()
paging.install()
vpc_sharing.install()
server = faults.AutopilotServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
print(f"READY http://{host}:{port}", flush=True)
try:
    sys.stdin.read()
finally:
    server.stop()
