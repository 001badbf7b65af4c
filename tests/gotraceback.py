"""The Go runtime's goroutine dump (SIGQUIT, or /debug/pprof/goroutine?debug=2) parsed: what
strand's reports are checked against, by the tests and by tests/targets/go/validate.py."""

import re


def parse_dump(text):
    """Goroutines of a traceback dump: id, state, frames [(func, file, line)], creator."""
    gs = []
    for block in re.split(r"\n\s*\n", text):
        lines = block.strip("\n").splitlines()
        i = next((k for k, l in enumerate(lines) if l.startswith("goroutine ")), None)
        if i is None:
            continue
        # Go 1.23 on, with GOTRACEBACK=all: "goroutine 7 gp=0xc000... m=nil [select]:"
        m = re.match(r"goroutine (\d+)(?: [^\[]*)? \[([^\]]*)\]:", lines[i])
        if not m:
            continue
        g = dict(id=int(m.group(1)), state=m.group(2).split(",")[0], frames=[], creator=None)
        body = lines[i + 1:]
        for k in range(0, len(body) - 1, 2):
            fn, loc = body[k], body[k + 1].strip()
            lm = re.match(r"(\S+):(\d+)", loc)
            if not lm:
                continue
            where = (lm.group(1).rsplit("/", 1)[-1], int(lm.group(2)))
            if fn.startswith("created by "):
                g["creator"] = (fn[len("created by "):].split(" in goroutine")[0],) + where
            else:
                g["frames"].append((re.sub(r"\([^()]*\)$", "", fn),) + where)
        gs.append(g)
    return gs
