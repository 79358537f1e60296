import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import scenario  # noqa: E402
from harness.emulator import Emulator  # noqa: E402
from harness.lambda_host import LambdaHost  # noqa: E402


@pytest.fixture
def emu():
    """A fresh emulator per test: its own server and port, so tests run in parallel."""
    with Emulator() as e:
        yield e


@pytest.fixture
def world(emu):
    return scenario.build(emu)


@pytest.fixture
def functions():
    """Start a function's binary: functions(name, env, **LambdaHost options). Every one started is
    stopped after the test."""
    hosts = []

    def start(name: str, env: dict[str, str], **options) -> LambdaHost:
        host = LambdaHost(name, env, **options)
        hosts.append(host)
        return host

    yield start
    for h in hosts:
        h.close()


@pytest.fixture
def acceptor(world, functions):
    """Start the acceptor against the world: acceptor(**function_env kwargs)."""
    return lambda **kwargs: functions(scenario.FUNCTION, world.function_env(**kwargs))
