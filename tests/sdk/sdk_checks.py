"""What both SDK scripts share: registering checks, expecting an exception, and the run that
prints one line per check and a closing "N passed, M failed"."""

import sys

_checks = []


def check(fn):
    """Registers `fn` as a check; its name is what the report shows."""
    _checks.append(fn)
    return fn


def raises(error_type, call):
    """The error `call` raised; fails when it raised none or another type."""
    try:
        call()
    except error_type as e:
        return e
    raise AssertionError(f"no {error_type.__name__}")


def run_checks():
    """Runs every registered check, reports each, and exits 1 when any failed."""
    failures = []
    for fn in _checks:
        try:
            fn()
            print(f"ok   {fn.__name__}")
        except Exception as exc:  # noqa: BLE001 - every failure is reported, none stops the run
            failures.append(fn.__name__)
            print(f"FAIL {fn.__name__}: {exc!r}")
    print(f"{len(_checks) - len(failures)} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)
