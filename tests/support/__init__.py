"""Test infrastructure shared by several suites (a real local Prefect server)."""
