import pytest

KEEP = []


@pytest.mark.parametrize("n", [1500, 5000])
@pytest.mark.max_memory_growth("16 KiB")
def test_small_objects(n):
    KEEP.append([object() for _ in range(n)])


@pytest.mark.max_memory_growth("16 KiB")
def test_small_objects_clean():
    scratch = [object() for _ in range(5000)]
    assert len(scratch) == 5000


@pytest.mark.max_memory_growth("8 KiB")
def test_below_any_floor():
    pass
