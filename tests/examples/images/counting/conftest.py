# Counts gc.collect() calls made while tests run (the plugin looks gc.collect up at each call).
import gc

import pytest

CALLS = []
_collect = gc.collect


def counting_collect(*args, **kwargs):
    CALLS.append(1)
    return _collect(*args, **kwargs)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    gc.collect = counting_collect
    try:
        return (yield)
    finally:
        gc.collect = _collect


def pytest_sessionfinish(session):
    with open("collections.txt", "w") as out:
        out.write(str(len(CALLS)))
