import viewer


def pytest_glleak_before_check(item):
    viewer.CACHE.clear()
