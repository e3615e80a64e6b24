import ctypes

from OpenGL import EGL


def new_context(share=None, dpy=None, compat=False):
    """A second context on the plugin's own display, current on return (a foreign renderer's)."""
    dpy = dpy or EGL.eglGetCurrentDisplay()
    cfg = EGL.EGLConfig()
    n = EGL.EGLint()
    attrs = (EGL.EGLint * 17)(
        EGL.EGL_SURFACE_TYPE, EGL.EGL_PBUFFER_BIT, EGL.EGL_RENDERABLE_TYPE, EGL.EGL_OPENGL_BIT,
        EGL.EGL_RED_SIZE, 8, EGL.EGL_GREEN_SIZE, 8, EGL.EGL_BLUE_SIZE, 8, EGL.EGL_NONE, 0, 0, 0, 0, 0, 0,
    )
    assert EGL.eglChooseConfig(dpy, attrs, ctypes.pointer(cfg), 1, ctypes.pointer(n))
    EGL.eglBindAPI(EGL.EGL_OPENGL_API)
    ctx_attrs = (EGL.EGLint * 7)(
        EGL.EGL_CONTEXT_MAJOR_VERSION, 3, EGL.EGL_CONTEXT_MINOR_VERSION, 3, 0x30FD, 2 if compat else 1, EGL.EGL_NONE
    )
    ctx = EGL.eglCreateContext(dpy, cfg, share or EGL.EGL_NO_CONTEXT, ctx_attrs)
    assert ctx
    surf = EGL.eglCreatePbufferSurface(
        dpy, cfg, (EGL.EGLint * 5)(EGL.EGL_WIDTH, 16, EGL.EGL_HEIGHT, 16, EGL.EGL_NONE)
    )
    assert surf
    assert EGL.eglMakeCurrent(dpy, surf, surf, ctx)
    return dpy, surf, ctx


def current_handle():
    return ctypes.cast(EGL.eglGetCurrentContext(), ctypes.c_void_p).value or 0
