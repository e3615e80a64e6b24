import os
import threading

from PIL import Image

KEPT = []
STOP = threading.Event()


def test_growth_and_measure(memory_baseline):
    grown = memory_baseline.growth()
    assert {"rss", "malloc", "image_bytes", "fds", "threads"} <= set(grown)

    def decode_and_drop():
        Image.new("RGB", (256, 256)).convert("L")

    result = memory_baseline.measure(decode_and_drop, warmup=2, repeat=4)
    assert [row["warmup"] for row in result.rows] == [1, 1, 0, 0, 0, 0]
    assert result.per_iteration["image_bytes"] == 0

    KEPT.append(Image.new("RGB", (512, 512)))
    assert memory_baseline.growth()["image_bytes"] == 512 * 512 * 4


def test_leaves_an_fd_and_a_thread(memory_baseline):
    KEPT.append(open(os.devnull, "rb"))
    worker = threading.Thread(target=STOP.wait, name="poller", daemon=True)
    worker.start()
    KEPT.append(worker)


def test_closes_what_it_opens(memory_baseline):
    with open(os.devnull, "rb"):
        pass
    worker = threading.Thread(target=len, args=((),), name="short")
    worker.start()
    worker.join()


def test_without_the_fixture():
    KEPT.append(open(os.devnull, "rb"))
