"""otp._log: configure_logging, debug_enabled and get_logger."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog
from structlog.testing import capture_logs

from otp import _log


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    """Leave structlog and the debug flag as each test found them."""
    configured, config = structlog.is_configured(), structlog.get_config()
    debug, level = _log.debug_enabled(), _log._level
    yield
    if configured:
        structlog.configure(**config)
    else:
        structlog.reset_defaults()
    _log.set_debug_enabled(debug)
    _log._level = level


@pytest.mark.parametrize("level", ["verbose", "", "trace"])
def test_configure_logging_rejects_an_unknown_level_naming_it(level: str) -> None:
    with pytest.raises(ValueError, match=rf"invalid log level '{level}'.*debug, info"):
        _log.configure_logging(level=level)


@pytest.mark.parametrize("fmt", ["yaml", "", "JSONL"])
def test_configure_logging_rejects_an_unknown_format_naming_it(fmt: str) -> None:
    with pytest.raises(ValueError, match=rf"invalid log format '{fmt}'.*console, json"):
        _log.configure_logging(fmt=fmt)


def test_configure_logging_accepts_levels_in_any_case() -> None:
    _log.configure_logging(level="WARNING", fmt="json")
    assert not _log.debug_enabled()


def test_debug_enabled_follows_the_configured_level() -> None:
    _log.configure_logging(level="debug")
    assert _log.debug_enabled()
    _log.configure_logging(level="info")
    assert not _log.debug_enabled()
    _log.configure_logging(level="debug", fmt="json")
    _log.configure_logging(level="debug", fmt="json")  # idempotent
    assert _log.debug_enabled()


def test_get_logger_emits_events_with_its_bound_values() -> None:
    log = _log.get_logger(supervisor="root", node="a@host")
    with capture_logs() as events:
        log.info(_log.CHILD_STARTED, child_id="researcher")
    assert events == [
        {
            "event": "child_started",
            "log_level": "info",
            "supervisor": "root",
            "node": "a@host",
            "child_id": "researcher",
        }
    ]


def test_configured_level_filters_events_below_it(capsys: pytest.CaptureFixture[str]) -> None:
    _log.configure_logging(level="warning", fmt="json")
    log = _log.get_logger(agent="Researcher (urn:uuid:1)")
    log.info(_log.CHILD_STARTED)
    log.error(_log.AGENT_CRASHED, reason="boom")
    err = capsys.readouterr().err
    assert "child_started" not in err
    assert '"event": "agent_crashed"' in err
    assert '"agent": "Researcher (urn:uuid:1)"' in err


def test_loggers_created_before_configuring_follow_the_new_configuration() -> None:
    log = _log.get_logger(agent="a")
    _log.configure_logging(level="info")
    with capture_logs() as events:
        log.warning(_log.DEAD_LETTER)
    assert [e["event"] for e in events] == ["dead_letter"]


def test_importing_otp_log_does_not_configure_structlog() -> None:
    import subprocess
    import sys

    code = (
        "import structlog; before = structlog.get_config();"
        "import otp._log; assert structlog.get_config() == before;"
        "assert not structlog.is_configured()"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


CRASH_SCRIPT = """
import otp
from otp import AgentActor
otp.configure_logging(level="info", fmt={fmt!r})

class Leaky(AgentActor):
    def on_receive(self, message):
        api_key = "sk-NEVER-IN-LOGS"
        raise RuntimeError("model call failed")

ref = Leaky.start()
ref.tell("go")
ref.join(timeout=5)
"""


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_a_crash_report_never_prints_the_local_variables_of_the_crashed_frame(fmt: str) -> None:
    """Crash events carry a plain traceback: a handler's locals (a key, a prompt) stay out."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", CRASH_SCRIPT.format(fmt=fmt)],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "agent_crashed" in result.stderr
    assert "model call failed" in result.stderr
    assert "sk-NEVER-IN-LOGS" not in result.stderr + result.stdout


def test_enabled_follows_the_configured_level() -> None:
    """enabled(level) is True for every level until configured, then follows the threshold."""
    _log.configure_logging(level="error")
    assert _log.enabled("error") and _log.enabled("critical")
    assert not _log.enabled("warning")
    _log.configure_logging(level="debug")
    assert _log.enabled("debug")


def test_the_crash_event_has_agent_reason_and_a_plain_traceback() -> None:
    """agent_crashed carries agent, reason and traceback text (no exc_info object)."""
    from otp import AgentActor

    class Boom(AgentActor):
        def on_receive(self, message: object) -> None:
            raise ValueError("bad input")

    with structlog.testing.capture_logs() as logs:
        ref = Boom.start()
        ref.tell("x")
        ref.join(timeout=5)
    [event] = [e for e in logs if e["event"] == "agent_crashed"]
    assert event["agent"] == str(ref)
    assert event["reason"] == "ValueError('bad input')"
    assert "Traceback" in event["traceback"] and "bad input" in event["traceback"]
    assert "exc_info" not in event
