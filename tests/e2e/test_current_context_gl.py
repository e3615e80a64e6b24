"""The ledger's current-context function answers what ``eglGetCurrentContext`` answers, against real EGL.

With the C accelerator on Mesa, it asks ``eglGetCurrentContext`` only when Mesa's own per-thread context
pointer changed, or a context was created or destroyed where the ledger saw it. These runs switch
contexts behind the ledger's back (the plugin's own bare ctypes EGL calls, which no hook sees), in two
threads, across contexts the ledger sees made and destroyed, and compare every answer with the driver's.
The same script runs in pure Python, where the function is a plain ctypes call.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

SCRIPT = textwrap.dedent(
    r"""
    import json, os, random, sys, threading
    os.environ["PYOPENGL_PLATFORM"] = "egl"
    from pytest_glleak.gl import ContextUnavailable, create_context
    from pytest_glleak.ledger import Ledger, gl_functions

    try:
        contexts = [create_context("egl", size=(16, 16)) for _ in range(3)]
    except ContextUnavailable as exc:
        print(json.dumps({"unavailable": str(exc)}))
        sys.exit(0)
    ledger = Ledger()
    ledger.install()
    current = ledger._current
    egl = contexts[0]._egl
    wrong, checks = [], [0]

    def check(step):
        truth = egl.eglGetCurrentContext() or 0
        for _ in range(2):  # the second answer comes from what the first remembered
            checks[0] += 1
            answer = current() or 0
            if answer != truth:
                wrong.append([step, answer, truth])

    rng = random.Random(13)
    for step in range(600):  # switches no hook sees, and no context at all
        choice = rng.randrange(4)
        if choice == 3:
            contexts[0].release_current()
        else:
            contexts[choice].make_current()
        check(f"switch {step} to {choice}")

    # A context the ledger sees destroyed, and one it sees made (the same driver memory, often).
    contexts[2].make_current()
    ledger.attach_context(contexts[2])
    check("attached")
    ledger.detach_context(contexts[2])
    contexts[2].destroy()
    check("destroyed")
    for round in range(5):
        fresh = create_context("egl", size=(16, 16))
        ledger.attach_context(fresh)
        check(f"made {round}")
        contexts[0].make_current()
        check(f"back {round}")
        fresh.make_current()
        check(f"fresh again {round}")
        ledger.detach_context(fresh)
        fresh.destroy()
        check(f"fresh destroyed {round}")

    contexts[0].make_current()
    check("main")

    def other_thread():
        check("thread, none yet")
        contexts[1].make_current()
        check("thread")
        contexts[1].release_current()
        check("thread, released")

    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()
    check("main, after the thread")
    print(json.dumps({
        "type": type(current).__name__,
        "driver_checked": bool(getattr(current, "driver_checked", False)),
        "mesa": gl_functions.driver_context_address() is not None,
        "wrong": wrong,
        "checks": checks[0],
    }))
    """
)


def _run(tmp_path: Path, pure: bool) -> dict[str, Any]:
    script = tmp_path / "current_context.py"
    script.write_text(SCRIPT)
    env = dict(os.environ)
    env.pop("PYTEST_GLLEAK_PURE_PYTHON", None)
    if pure:
        env["PYTEST_GLLEAK_PURE_PYTHON"] = "1"
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    facts: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    if "unavailable" in facts:
        pytest.skip(f"no EGL context here: {facts['unavailable']}")
    return facts


@pytest.mark.parametrize("pure", [False, True], ids=["accelerated", "pure-python"])
def test_every_answer_is_the_drivers_through_unseen_switches_threads_and_new_contexts(
    tmp_path: Path, pure: bool
) -> None:
    facts = _run(tmp_path, pure)
    assert facts["wrong"] == []
    assert facts["checks"] > 1200
    if pure:
        assert not facts["driver_checked"]


def test_on_mesa_the_accelerator_reads_the_drivers_context_pointer(tmp_path: Path) -> None:
    from pytest_glleak import speedups

    if speedups.native is None:
        pytest.skip(f"the C accelerator is not used here: {speedups.why_pure}")
    facts = _run(tmp_path, pure=False)
    assert facts["type"] == "CurrentFunction"
    # Where Mesa's libglapi is loaded, the fast path is on (and the test above checked its answers).
    assert facts["driver_checked"] == facts["mesa"]
