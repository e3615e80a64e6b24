import io

import numpy as np
import pytest
from PIL import Image

buffer = io.BytesIO()
Image.linear_gradient("L").resize((256, 256)).convert("RGB").save(buffer, "PNG")
PNG = buffer.getvalue()


# A limit of one byte: the per-measure noise floors are the only tolerance left.
@pytest.mark.parametrize("run", range(20))
@pytest.mark.max_memory_growth(1)
def test_no_growth(run):
    image = Image.open(io.BytesIO(PNG)).convert("RGBA").resize((300, 300))
    pixels = np.asarray(image).astype(np.float32) / 255.0
    scratch = [bytes(4096) for _ in range(64)]
    assert pixels.mean() > 0 and len(scratch) == 64
