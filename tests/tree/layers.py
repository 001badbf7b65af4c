"""The layers of user/ (user/README.md): each folder calls only itself and the folders
below it. Read from the include lines, which name a header by its folder
("sym/symbolize.h"), so a call upward shows as an include upward."""
import pathlib
import re

# lowest first: a folder may include headers of its own folder and of those before it
LAYERS = ["lib", "sys", "sym", "probes", "collect", "verdicts", "go", "engine", "report/fmt",
          "report", "daemon", "cli"]

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def folder_of(rel):
    """The layer a path under user/ belongs to: report/fmt before report."""
    for layer in sorted(LAYERS, key=len, reverse=True):
        if rel == layer or rel.startswith(layer + "/"):
            return layer
    return None


def violations(user_dir):
    """[(file, included header, why)] for every include that calls upward or names no
    folder; and every folder not in the table."""
    bad = []
    user_dir = pathlib.Path(user_dir)
    for path in sorted(user_dir.rglob("*.[ch]")):
        rel = path.relative_to(user_dir).as_posix()
        mine = folder_of(rel.rsplit("/", 1)[0])
        if mine is None:
            bad.append((rel, "", "in no layer of the table"))
            continue
        for header in INCLUDE.findall(path.read_text()):
            if "/" not in header:
                # the skeletons bpftool makes and the BPF side's shared header
                if header.endswith(".skel.h") or header == "strand.h":
                    continue
                bad.append((rel, header, "names no folder"))
                continue
            theirs = folder_of(header.rsplit("/", 1)[0])
            if theirs is None:
                bad.append((rel, header, "a folder in no layer"))
            elif LAYERS.index(theirs) > LAYERS.index(mine):
                bad.append((rel, header, "calls up, from %s to %s" % (mine, theirs)))
    return bad


if __name__ == "__main__":
    import sys
    found = violations(pathlib.Path(__file__).resolve().parents[2] / "user")
    for rel, header, why in found:
        print("%s: %s %s" % (rel, header, why))
    sys.exit(1 if found else 0)
