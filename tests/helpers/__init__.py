"""Test helpers shared by the test packages: small books and report runs."""
