"""A small app under test: one function creates a texture, one decodes an image, one caches bytes."""

import OpenGL.GL as gl
from PIL import Image

IMAGES = []
BLOBS = []


def upload():
    texture = gl.glGenTextures(1)  # SITE-TEXTURE
    gl.glBindTexture(gl.GL_TEXTURE_2D, texture)
    gl.glTexImage2D(gl.GL_TEXTURE_2D, 0, gl.GL_RGBA8, 16, 16, 0, gl.GL_RGBA, gl.GL_UNSIGNED_BYTE, None)
    return texture


def load():
    image = Image.new("RGBA", (64, 32))  # SITE-IMAGE
    IMAGES.append(image)
    return image


def remember():
    BLOBS.append(b"x" * (1 << 20))
