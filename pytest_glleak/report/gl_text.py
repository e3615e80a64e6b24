"""The failure text for leaked GL objects: every object, grouped by creation site, never truncated."""

from __future__ import annotations

from pytest_glleak.findings import LeakedGLObject
from pytest_glleak.report.text import api_kind_phrase, count_phrase, format_bytes_spelled
from pytest_glleak.sites import frame_text


def format_gl_leaks(leaked: list[LeakedGLObject]) -> str:
    """The failure text: every leaked object (never truncated), grouped by creation site.

    ``12 textures created at render.py:88 in upload()`` heads each group, then one line per object
    (kind, name, label, estimated bytes, reserved/phase notes), then the rest of the site's stack.
    """
    if not leaked:
        return "no GL objects leaked"
    groups: dict[tuple[tuple[str, int, str], ...], list[LeakedGLObject]] = {}
    for entry in leaked:
        site_key = tuple((frame["file"], frame["line"], frame["function"]) for frame in entry["create_site"])
        groups.setdefault(site_key, []).append(entry)
    by_kind: dict[str, int] = {}
    for entry in leaked:
        by_kind[entry["kind"]] = by_kind.get(entry["kind"], 0) + 1
    total_bytes = sum(entry["bytes"] for entry in leaked)
    kinds_text = ", ".join(api_kind_phrase(kind, count) for kind, count in by_kind.items())
    headline = f"{count_phrase(len(leaked), 'GL object')} leaked ({kinds_text})"
    if total_bytes:
        headline += f", about {format_bytes_spelled(total_bytes)} of GPU memory"
    lines = [headline + ":"]
    for entries in groups.values():
        counts: dict[str, int] = {}
        for entry in entries:
            counts[entry["kind"]] = counts.get(entry["kind"], 0) + 1
        what = ", ".join(api_kind_phrase(kind, count) for kind, count in counts.items())
        frames = entries[0]["create_site"]
        where = f"created at {frame_text(frames[0])}" if frames else "created at an unknown site"
        lines.append(f"  {what} {where}:")
        for entry in entries:
            name_text = f"{entry['name']:#x}" if entry["kind"] == "sync" else str(entry["name"])
            details = [f"{entry['kind']} {name_text}"]
            if entry["label"]:
                details.append(f"label {entry['label']!r}")
            if entry["bytes"]:
                details.append(format_bytes_spelled(entry["bytes"]))
            if entry["reserved_only"]:
                details.append("reserved only (generated, never bound)")
            elif entry.get("unconfirmed"):
                details.append("unconfirmed (no context of its share group could be made current to ask)")
            details.append(f"in {entry['phase'] or 'unknown phase'}")
            lines.append("    - " + ", ".join(details))
        if len(frames) > 1:
            lines.append("    called from:")
            lines.extend(f"      {frame_text(frame)}" for frame in frames[1:])
    return "\n".join(lines)
