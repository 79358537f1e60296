"""Test and demo harness: the local AWS emulator, a local Lambda runtime, and the scenario."""
