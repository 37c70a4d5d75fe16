"""StoreHealth (issue 19 item 6): the back-off between attempts on a failing store, and what
/health reports. A fake clock drives it; the web behaviour is tested in test_store_degraded.py."""
from geoapp.ingest.failures import StoreHealth


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_attempts_back_off_while_the_store_fails_and_reset_on_success():
    clock = Clock()
    health = StoreHealth(clock)
    assert health.ok and health.due() and health.report() == {"store": "ok"}
    waits = [health.failed(OSError("unable to open database file")) for _ in range(7)]
    assert waits == [1, 2, 4, 8, 16, 30, 30]
    assert not health.due()
    clock.now += 29.9
    assert not health.due()
    clock.now += 0.2
    assert health.due()
    report = health.report()
    assert report["store"] == "unreachable" and report["failures"] == 7
    assert report["store_error"] == "OSError (cannot be read)"      # the gist: /health is public
    assert health.error == "OSError: unable to open database file"    # the whole message for the log
    health.succeeded()
    assert health.ok and health.due() and health.report() == {"store": "ok"}
    assert health.failed(OSError("again")) == 1     # a new run of failures starts short again
