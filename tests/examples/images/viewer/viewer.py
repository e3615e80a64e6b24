from collections import OrderedDict

CACHE = OrderedDict()


def thumbnail(image, size):
    if size not in CACHE:
        CACHE[size] = image.resize(size)  # CREATE:bounded_cache
        while len(CACHE) > 4:
            CACHE.popitem(last=False)
    return CACHE[size]
