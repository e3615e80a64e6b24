from PIL import Image

SPLASH = Image.new("RGB", (320, 240), "navy").convert("RGBA")
