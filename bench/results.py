"""bench/RESULTS.md is written by several scripts, each owning a part: the head (bench/run.py,
up to the first "## " section) or one "## " section. Each rewrites its own part in place
and leaves the others as they were."""
import os


def _read(path):
    return open(path).read() if os.path.exists(path) else ""


def put_head(path, text):
    """Replaces what comes before the first "## " section with text."""
    old = _read(path)
    at = old.find("\n## ")
    rest = old[at + 1:] if at >= 0 else ""
    with open(path, "w") as f:
        f.write(text.rstrip("\n") + "\n" + ("\n" + rest if rest else ""))


def put_section(path, section, text):
    """Replaces the section headed `section` (up to the next "## ") with text, which starts
    with that header; appends it when there is none yet."""
    old = _read(path)
    if section + "\n" in old:
        start = old.index(section + "\n")
        end = old.find("\n## ", start + len(section))
        tail = old[end + 1:] if end >= 0 else ""
        new = old[:start] + text.rstrip("\n") + "\n" + ("\n" + tail if tail else "")
    else:
        new = old.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    with open(path, "w") as f:
        f.write(new)
