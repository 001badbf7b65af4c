"""The house a newcomer walks (user/README.md): every folder of user/ in the table of
layers, each with a README, and no include that calls upward."""
import pathlib
import tempfile

from harness import check, expect_eq
import layers

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_no_folder_calls_upward():
    found = layers.violations(ROOT / "user")
    expect_eq(found, [], "includes against the layers of user/README.md",
              "\n".join("%s: %s %s" % v for v in found))


def test_the_check_sees_a_call_upward():
    """The check itself: a lib file calling into the engine, an include naming no folder,
    a folder outside the table."""
    with tempfile.TemporaryDirectory() as d:
        user = pathlib.Path(d)
        for rel, text in (("lib/a.c", '#include "engine/engine.h"\n#include "lib/a.h"\n'),
                          ("sym/b.c", '#include "b.h"\n#include "strand.h"\n'),
                          ("attic/c.c", "")):
            (user / rel).parent.mkdir(parents=True, exist_ok=True)
            (user / rel).write_text(text)
        found = layers.violations(user)
    expect_eq(sorted((f, h) for f, h, _ in found),
              [("attic/c.c", ""), ("lib/a.c", "engine/engine.h"), ("sym/b.c", "b.h")],
              "what the check finds in a tree with three faults", found)


def test_every_layer_has_a_readme_and_the_map_names_it():
    top = (ROOT / "user" / "README.md").read_text()
    for layer in layers.LAYERS:
        readme = ROOT / "user" / layer / "README.md"
        check(readme.is_file(), "user/%s has a README.md" % layer)
        check(("\n%s/" % layer.split("/")[-1]) in top or ("\n  %s/" % layer.split("/")[-1]) in top,
              "user/README.md's map names %s/" % layer)
    folders = {p.parent.relative_to(ROOT / "user").as_posix()
               for p in (ROOT / "user").rglob("*.[ch]")}
    expect_eq(sorted(folders - set(layers.LAYERS)), [], "folders of user/ outside the layers")
