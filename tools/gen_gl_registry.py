#!/usr/bin/env python3
"""Generate ``pytest_glleak/ledger/registry.py`` from the Khronos GL registry (``gl.xml``).

Usage: ``python tools/gen_gl_registry.py /path/to/gl.xml [output.py]``

The create/delete/query entry points of every object kind are found through the registry's own
``class="texture"`` (etc.) annotations on parameters and return values, never by name patterns, and
their ARB/EXT/APPLE/OES/KHR aliases through ``<alias>``/suffix matching. Storage and label calls are
a fixed list of names whose parameter positions are read from the registry.
"""

from __future__ import annotations

import pprint
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

CLASS_TO_KIND = {
    "texture": "texture",
    "buffer": "buffer",
    "renderbuffer": "renderbuffer",
    "sampler": "sampler",
    "framebuffer": "framebuffer",
    "vertex array": "vertex_array",
    "transform feedback": "transform_feedback",
    "program pipeline": "program_pipeline",
    "query": "query",
    "shader": "shader",
    "program": "program",
    "sync": "sync",
    "display list": "display_list",
}
KINDS = tuple(CLASS_TO_KIND.values())
# GL 4.6 chapter 5: containers and queries are per context, everything else is shared.
PER_CONTEXT = ("framebuffer", "vertex_array", "transform_feedback", "program_pipeline", "query")
SUFFIXES = ("ARB", "EXT", "APPLE", "OES", "KHR")
# ARB assembly programs (glGenProgramsARB...) are a different namespace from GLSL programs.
EXCLUDED = re.compile(r"^gl(Gen|Delete|Is)Programs?(ARB|NV)$|Perf|NV$|NVX$|SGIX$|INTEL$|AMD$|ATI$")

STORAGE_BASES = (
    "glTexImage1D",
    "glTexImage2D",
    "glTexImage3D",
    "glTexImage2DMultisample",
    "glTexImage3DMultisample",
    "glCompressedTexImage1D",
    "glCompressedTexImage2D",
    "glCompressedTexImage3D",
    "glTexStorage1D",
    "glTexStorage2D",
    "glTexStorage3D",
    "glTexStorage2DMultisample",
    "glTexStorage3DMultisample",
    "glTextureStorage1D",
    "glTextureStorage2D",
    "glTextureStorage3D",
    "glTextureStorage2DMultisample",
    "glTextureStorage3DMultisample",
    "glBufferData",
    "glNamedBufferData",
    "glBufferStorage",
    "glNamedBufferStorage",
    "glRenderbufferStorage",
    "glRenderbufferStorageMultisample",
    "glNamedRenderbufferStorage",
    "glNamedRenderbufferStorageMultisample",
)
STORAGE_PARAMS = (
    "target",
    "level",
    "levels",
    "samples",
    "internalformat",
    "width",
    "height",
    "depth",
    "format",
    "type",
    "size",
    "imageSize",
)
LABEL_CALLS = ("glObjectLabel", "glObjectPtrLabel", "glLabelObjectEXT")
# KHR_debug object identifiers (and EXT_debug_label types) -> kind.
LABEL_IDENTIFIERS = {
    "GL_TEXTURE": "texture",
    "GL_BUFFER": "buffer",
    "GL_BUFFER_OBJECT_EXT": "buffer",
    "GL_RENDERBUFFER": "renderbuffer",
    "GL_SAMPLER": "sampler",
    "GL_FRAMEBUFFER": "framebuffer",
    "GL_VERTEX_ARRAY": "vertex_array",
    "GL_VERTEX_ARRAY_OBJECT_EXT": "vertex_array",
    "GL_TRANSFORM_FEEDBACK": "transform_feedback",
    "GL_PROGRAM_PIPELINE": "program_pipeline",
    "GL_PROGRAM_PIPELINE_OBJECT_EXT": "program_pipeline",
    "GL_QUERY": "query",
    "GL_QUERY_OBJECT_EXT": "query",
    "GL_SHADER": "shader",
    "GL_SHADER_OBJECT_EXT": "shader",
    "GL_PROGRAM": "program",
    "GL_PROGRAM_OBJECT_EXT": "program",
    "GL_DISPLAY_LIST": "display_list",
}
# Bytes per texel of sized internal formats (and the unsized ones glTexImage accepts).
FORMAT_BYTES = {
    "GL_R8": 1,
    "GL_R8_SNORM": 1,
    "GL_R8I": 1,
    "GL_R8UI": 1,
    "GL_RED": 1,
    "GL_ALPHA": 1,
    "GL_LUMINANCE": 1,
    "GL_ALPHA8": 1,
    "GL_LUMINANCE8": 1,
    "GL_STENCIL_INDEX8": 1,
    "GL_R16": 2,
    "GL_R16F": 2,
    "GL_R16I": 2,
    "GL_R16UI": 2,
    "GL_R16_SNORM": 2,
    "GL_RG8": 2,
    "GL_RG8I": 2,
    "GL_RG8UI": 2,
    "GL_RG8_SNORM": 2,
    "GL_RG": 2,
    "GL_LUMINANCE_ALPHA": 2,
    "GL_LUMINANCE8_ALPHA8": 2,
    "GL_RGB565": 2,
    "GL_RGB5_A1": 2,
    "GL_RGBA4": 2,
    "GL_DEPTH_COMPONENT16": 2,
    "GL_RGB8": 3,
    "GL_RGB8I": 3,
    "GL_RGB8UI": 3,
    "GL_RGB8_SNORM": 3,
    "GL_SRGB8": 3,
    "GL_RGB": 3,
    "GL_DEPTH_COMPONENT24": 3,
    "GL_DEPTH_COMPONENT": 3,
    "GL_RGBA8": 4,
    "GL_RGBA8I": 4,
    "GL_RGBA8UI": 4,
    "GL_RGBA8_SNORM": 4,
    "GL_SRGB8_ALPHA8": 4,
    "GL_RGBA": 4,
    "GL_BGRA": 4,
    "GL_RGB10_A2": 4,
    "GL_RGB10_A2UI": 4,
    "GL_R11F_G11F_B10F": 4,
    "GL_RGB9_E5": 4,
    "GL_R32F": 4,
    "GL_R32I": 4,
    "GL_R32UI": 4,
    "GL_RG16": 4,
    "GL_RG16F": 4,
    "GL_RG16I": 4,
    "GL_RG16UI": 4,
    "GL_RG16_SNORM": 4,
    "GL_DEPTH_COMPONENT32": 4,
    "GL_DEPTH_COMPONENT32F": 4,
    "GL_DEPTH24_STENCIL8": 4,
    "GL_DEPTH_STENCIL": 4,
    "GL_RGB16": 6,
    "GL_RGB16F": 6,
    "GL_RGB16I": 6,
    "GL_RGB16UI": 6,
    "GL_RGB16_SNORM": 6,
    "GL_RGBA16": 8,
    "GL_RGBA16F": 8,
    "GL_RGBA16I": 8,
    "GL_RGBA16UI": 8,
    "GL_RGBA16_SNORM": 8,
    "GL_RG32F": 8,
    "GL_RG32I": 8,
    "GL_RG32UI": 8,
    "GL_DEPTH32F_STENCIL8": 8,
    "GL_RGB32F": 12,
    "GL_RGB32I": 12,
    "GL_RGB32UI": 12,
    "GL_RGBA32F": 16,
    "GL_RGBA32I": 16,
    "GL_RGBA32UI": 16,
}
# Components per pixel of client formats and bytes per component of client types (glTexImage*).
FORMAT_COMPONENTS = {
    "GL_RED": 1,
    "GL_GREEN": 1,
    "GL_BLUE": 1,
    "GL_ALPHA": 1,
    "GL_LUMINANCE": 1,
    "GL_RED_INTEGER": 1,
    "GL_DEPTH_COMPONENT": 1,
    "GL_STENCIL_INDEX": 1,
    "GL_DEPTH_STENCIL": 1,
    "GL_RG": 2,
    "GL_RG_INTEGER": 2,
    "GL_LUMINANCE_ALPHA": 2,
    "GL_RGB": 3,
    "GL_BGR": 3,
    "GL_RGB_INTEGER": 3,
    "GL_BGR_INTEGER": 3,
    "GL_RGBA": 4,
    "GL_BGRA": 4,
    "GL_RGBA_INTEGER": 4,
    "GL_BGRA_INTEGER": 4,
}
TYPE_BYTES = {
    "GL_UNSIGNED_BYTE": 1,
    "GL_BYTE": 1,
    "GL_UNSIGNED_SHORT": 2,
    "GL_SHORT": 2,
    "GL_HALF_FLOAT": 2,
    "GL_UNSIGNED_INT": 4,
    "GL_INT": 4,
    "GL_FLOAT": 4,
}
# Packed types: bytes per whole pixel, whatever the format.
PACKED_TYPE_BYTES = {
    "GL_UNSIGNED_BYTE_3_3_2": 1,
    "GL_UNSIGNED_BYTE_2_3_3_REV": 1,
    "GL_UNSIGNED_SHORT_5_6_5": 2,
    "GL_UNSIGNED_SHORT_5_6_5_REV": 2,
    "GL_UNSIGNED_SHORT_4_4_4_4": 2,
    "GL_UNSIGNED_SHORT_4_4_4_4_REV": 2,
    "GL_UNSIGNED_SHORT_5_5_5_1": 2,
    "GL_UNSIGNED_SHORT_1_5_5_5_REV": 2,
    "GL_UNSIGNED_INT_8_8_8_8": 4,
    "GL_UNSIGNED_INT_8_8_8_8_REV": 4,
    "GL_UNSIGNED_INT_10_10_10_2": 4,
    "GL_UNSIGNED_INT_2_10_10_10_REV": 4,
    "GL_UNSIGNED_INT_24_8": 4,
    "GL_UNSIGNED_INT_10F_11F_11F_REV": 4,
    "GL_UNSIGNED_INT_5_9_9_9_REV": 4,
    "GL_FLOAT_32_UNSIGNED_INT_24_8_REV": 8,
}
# Texture image targets -> the binding target they apply to (cube faces share one binding).
TEXTURE_TARGETS = (
    "GL_TEXTURE_1D",
    "GL_TEXTURE_2D",
    "GL_TEXTURE_3D",
    "GL_TEXTURE_1D_ARRAY",
    "GL_TEXTURE_2D_ARRAY",
    "GL_TEXTURE_RECTANGLE",
    "GL_TEXTURE_CUBE_MAP",
    "GL_TEXTURE_CUBE_MAP_ARRAY",
    "GL_TEXTURE_BUFFER",
    "GL_TEXTURE_2D_MULTISAMPLE",
    "GL_TEXTURE_2D_MULTISAMPLE_ARRAY",
)
CUBE_FACES = (
    "GL_TEXTURE_CUBE_MAP_POSITIVE_X",
    "GL_TEXTURE_CUBE_MAP_NEGATIVE_X",
    "GL_TEXTURE_CUBE_MAP_POSITIVE_Y",
    "GL_TEXTURE_CUBE_MAP_NEGATIVE_Y",
    "GL_TEXTURE_CUBE_MAP_POSITIVE_Z",
    "GL_TEXTURE_CUBE_MAP_NEGATIVE_Z",
)


def _base(name: str) -> str:
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _param_names(command: ET.Element) -> list[str]:
    return [param.findtext("name") or "" for param in command.findall("param")]


def generate(xml_path: Path) -> str:
    root = ET.parse(xml_path).getroot()
    commands: dict[str, ET.Element] = {}
    for command in root.iter("command"):
        name = command.findtext("proto/name")
        if name and command.find("proto") is not None:
            commands[name] = command
    enums: dict[str, int] = {}
    for enum in root.iter("enum"):
        value = enum.get("value")
        if enum.get("name") and value is not None and enum.get("api") in (None, "gl"):
            try:
                enums.setdefault(enum.get("name", ""), int(value, 0))
            except ValueError:
                pass

    create: dict[str, tuple[str, str, int, int]] = {}
    delete: dict[str, tuple[str, str, int, int]] = {}
    is_query: dict[str, str] = {}
    for name, command in sorted(commands.items()):
        if EXCLUDED.search(name):
            continue
        params = command.findall("param")
        classes = [(index, param.get("class"), param.get("len")) for index, param in enumerate(params)]
        names = _param_names(command)
        return_class = command.find("proto").get("class")  # type: ignore[union-attr]
        alias = command.find("alias")
        alias_name = alias.get("name") if alias is not None else None
        if name.startswith(("glGen", "glCreate", "glFenceSync")) and not name.startswith("glGenerate"):
            if return_class in CLASS_TO_KIND:
                kind = CLASS_TO_KIND[return_class]
                shape = "range" if kind == "display_list" else "return"
                count = names.index("range") if shape == "range" else -1
                create[name] = (kind, shape, count, -1)
                continue
            for index, cls, length in classes:
                if cls in CLASS_TO_KIND and length:
                    create[name] = (CLASS_TO_KIND[cls], "array", names.index(length), index)
                    break
            else:
                if alias_name in ("glCreateShader", "glCreateProgram"):
                    create[name] = (alias_name[len("glCreate") :].lower(), "return", -1, -1)
        elif name.startswith("glDelete"):
            for index, cls, length in classes:
                if cls in CLASS_TO_KIND:
                    kind = CLASS_TO_KIND[cls]
                    if length:
                        delete[name] = (kind, "array", names.index(length), index)
                    elif "range" in names:
                        delete[name] = (kind, "range", names.index("range"), index)
                    else:
                        delete[name] = (kind, "single", -1, index)
                    break
            else:
                if name == "glDeleteObjectARB":
                    # ARB_shader_objects: one entry point for shaders and programs (one namespace).
                    delete[name] = ("shader_or_program", "single", -1, 0)
        elif name.startswith("glIs") and len(classes) == 1 and classes[0][1] in CLASS_TO_KIND:
            kind = CLASS_TO_KIND[classes[0][1]]
            if name == _base(name) or kind not in is_query:
                is_query[kind] = name if name == _base(name) else is_query.get(kind, name)

    def with_aliases(bases: tuple[str, ...]) -> list[str]:
        found = []
        for name in sorted(commands):
            if _base(name) in {_base(base) for base in bases} and not EXCLUDED.search(name):
                found.append(name)
        return found

    storage: dict[str, tuple[str, dict[str, int]]] = {}
    for name in with_aliases(STORAGE_BASES):
        names = _param_names(commands[name])
        base = _base(name)
        kind = "texture" if "Tex" in base else ("buffer" if "Buffer" in base else "renderbuffer")
        positions = {param: names.index(param) for param in STORAGE_PARAMS if param in names}
        direct = ("Named" in base or "Texture" in base) and kind in names
        if direct:
            positions["object"] = names.index(kind)
        storage[name] = (kind, positions)

    labels: dict[str, tuple[int, int, int, int]] = {}
    for name in with_aliases(LABEL_CALLS):
        names = _param_names(commands[name])
        identifier = (
            names.index("identifier")
            if "identifier" in names
            else (names.index("type") if "type" in names else -1)
        )
        object_param = "ptr" if "ptr" in names else ("name" if "identifier" in names else "object")
        obj = names.index(object_param)
        labels[name] = (identifier, obj, names.index("length"), names.index("label"))

    def enum_map(table: dict[str, int]) -> dict[int, int]:
        return {enums[name]: value for name, value in sorted(table.items()) if name in enums}

    label_kinds = {enums[name]: kind for name, kind in sorted(LABEL_IDENTIFIERS.items()) if name in enums}
    # Storage calls that name a target ask GL which object is bound there (glGetIntegerv), instead of
    # hooking every bind call: kind -> target -> the binding query enum.
    texture_binding: dict[int, int] = {}
    for name in TEXTURE_TARGETS:
        query = "GL_TEXTURE_BINDING_" + name[len("GL_TEXTURE_") :]
        if name in enums and query in enums:
            texture_binding[enums[name]] = enums[query]
    for face in CUBE_FACES:
        texture_binding[enums[face]] = enums["GL_TEXTURE_BINDING_CUBE_MAP"]
    buffer_binding: dict[int, int] = {}
    for name in sorted(enums):
        if name.endswith("_BUFFER") and name != "GL_BUFFER" and name + "_BINDING" in enums:
            buffer_binding.setdefault(enums[name], enums[name + "_BINDING"])
    binding_query = {
        "texture": texture_binding,
        "buffer": buffer_binding,
        "renderbuffer": {enums["GL_RENDERBUFFER"]: enums["GL_RENDERBUFFER_BINDING"]},
    }
    missing = [kind for kind in KINDS if kind not in {entry[0] for entry in create.values()}]
    if missing:
        raise SystemExit(f"registry has no create entry point for {missing}")

    revision = ""
    for comment in root.iter("comment"):
        revision = (comment.text or "").strip().splitlines()[0] if comment.text else ""
        break

    def literal(value: object) -> str:
        return pprint.pformat(value, width=110, sort_dicts=True)

    parts = [
        '"""GL object kinds and their entry points, generated from the Khronos registry (gl.xml).',
        "",
        "Do not edit: regenerate with ``python tools/gen_gl_registry.py gl.xml``.",
        f"Source: {revision[:100]}",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "#: The 13 object kinds, in report order.",
        f"KINDS: tuple[str, ...] = {literal(KINDS)}",
        "",
        "#: Kinds shared by every context of a share group (GL 4.6 chapter 5); the others are per context.",
        "SHARED_KINDS: frozenset[str] = frozenset(",
        f"    {literal(sorted(set(KINDS) - set(PER_CONTEXT)))}",
        ")",
        "",
        "#: create entry point -> (kind, shape, count param index, names param index).",
        "#: shape: 'array' (names written into a caller's array), 'return' (one name returned),",
        "#: 'range' (glGenLists: a base name is returned for `range` consecutive names).",
        f"CREATE: dict[str, tuple[str, str, int, int]] = {literal(create)}",
        "",
        "#: delete entry point -> (kind, shape, count/range param index, names param index).",
        "#: shape: 'array', 'single' (one name or sync pointer), 'range' (glDeleteLists(list, range)).",
        f"DELETE: dict[str, tuple[str, str, int, int]] = {literal(delete)}",
        "",
        "#: kind -> the glIs* query that confirms an object exists.",
        f"IS_QUERY: dict[str, str] = {literal(is_query)}",
        "",
        "#: storage call -> (kind, {parameter: index}); 'object' is present for direct-state-access calls.",
        f"STORAGE: dict[str, tuple[str, dict[str, int]]] = {literal(storage)}",
        "",
        "#: label call -> (identifier index or -1, object index, length index, label index).",
        f"LABEL: dict[str, tuple[int, int, int, int]] = {literal(labels)}",
        "",
        "#: glObjectLabel identifier -> kind.",
        f"LABEL_KINDS: dict[int, str] = {literal(label_kinds)}",
        "",
        "#: internal format -> bytes per texel.",
        f"FORMAT_BYTES: dict[int, int] = {literal(enum_map(FORMAT_BYTES))}",
        "",
        "#: client pixel format -> components; client type -> bytes per component; packed type -> bytes.",
        f"FORMAT_COMPONENTS: dict[int, int] = {literal(enum_map(FORMAT_COMPONENTS))}",
        f"TYPE_BYTES: dict[int, int] = {literal(enum_map(TYPE_BYTES))}",
        f"PACKED_TYPE_BYTES: dict[int, int] = {literal(enum_map(PACKED_TYPE_BYTES))}",
        "",
        "#: kind -> storage-call target -> the glGetIntegerv enum naming the object bound there.",
        f"BINDING_QUERY: dict[str, dict[int, int]] = {literal(binding_query)}",
        "",
    ]
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    source = Path(argv[1])
    default = Path(__file__).resolve().parent.parent / "pytest_glleak" / "ledger" / "registry.py"
    target = Path(argv[2]) if len(argv) > 2 else default
    target.write_text(generate(source))
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
