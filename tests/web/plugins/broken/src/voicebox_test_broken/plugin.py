"""Fails at import, as a plugin does whose dependency is missing."""

import voicebox_test_missing_dependency  # noqa: F401 - the failure under test
