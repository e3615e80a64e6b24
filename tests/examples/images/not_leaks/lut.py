import numpy as np

TABLE = np.zeros((256, 256, 4), dtype=np.float32)
