"""Documentation generated from the code, so the README cannot drift from it."""

from __future__ import annotations

from pytest_glleak.options import OPTIONS


def options_table() -> str:
    """The README's options table (flag | ini key | environment variable | default | meaning)."""
    rows = [
        "| flag | ini key | environment variable | default | meaning |",
        "|---|---|---|---|---|",
    ]
    for option in OPTIONS:
        flag = f"`{option.flag}`"
        if option.kind == "value":
            flag = f"`{option.flag}={option.metavar}`"
        if option.negative_flag:
            flag += f" / `{option.negative_flag}`"
        ini = f"`{option.ini}`" if option.ini else "—"
        env = f"`{option.env}`" if option.env else "—"
        cells = [flag, ini, env, f"`{option.default_text}`", option.help]
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(options_table())
