"""logfmt.py - reads tunetraild's log lines (logfmt, docs/INTERNALS.md "Log lines").

  logfmt.py check FILE              every line parses and has ts= level= event=,
                                    event from the documented vocabulary; exit 1
                                    naming the first bad line
  logfmt.py get FILE EVENT KEY [K=V]...
                                    KEY of the last line with event=EVENT (and
                                    each K=V); exit 1 if there is none
  logfmt.py count FILE EVENT [K=V]...
                                    how many lines have event=EVENT (and each K=V)
"""
import re
import sys

EVENTS = {"start", "config", "reject", "auth_refused", "forbidden", "batch", "retry",
          "store_error", "store_ok", "limit", "revoked", "reload", "fatal", "stop", "summary"}
LEVELS = {"debug", "info", "warn", "error"}
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def parse(line):
    """The pairs of one line, in order; raises ValueError if it is not logfmt."""
    pairs, i, n = [], 0, len(line)
    while i < n:
        if line[i] == " ":
            i += 1
            continue
        m = re.match(r"[A-Za-z_][A-Za-z0-9_]*=", line[i:])
        if not m:
            raise ValueError("expected key= at column %d" % (i + 1))
        key = m.group(0)[:-1]
        i += len(m.group(0))
        if i < n and line[i] == '"':
            i += 1
            out = []
            while True:
                if i >= n:
                    raise ValueError("unterminated quote for %s" % key)
                c = line[i]
                if c == '"':
                    i += 1
                    break
                if c == "\\":
                    e = line[i + 1:i + 2]
                    if e in ('"', "\\"):
                        out.append(e)
                        i += 2
                    elif e == "n":
                        out.append("\n")
                        i += 2
                    elif e == "t":
                        out.append("\t")
                        i += 2
                    elif e == "x":
                        out.append(chr(int(line[i + 2:i + 4], 16)))
                        i += 4
                    else:
                        raise ValueError("bad escape in %s" % key)
                    continue
                out.append(c)
                i += 1
            val = "".join(out)
            if i < n and line[i] != " ":
                raise ValueError("no space after the quoted value of %s" % key)
        else:
            j = line.find(" ", i)
            j = n if j < 0 else j
            val = line[i:j]
            if '"' in val or "=" in val:
                raise ValueError("unquoted value of %s holds '\"' or '='" % key)
            i = j
        pairs.append((key, val))
    return pairs


def lines(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        for no, line in enumerate(f, 1):
            yield no, line.rstrip("\n")


def check(path):
    seen = 0
    for no, line in lines(path):
        try:
            p = parse(line)
        except ValueError as e:
            sys.exit("%s:%d: not logfmt (%s): %s" % (path, no, e, line))
        keys = [k for k, _ in p]
        if keys[:3] != ["ts", "level", "event"]:
            sys.exit("%s:%d: does not start with ts= level= event=: %s" % (path, no, line))
        d = dict(p)
        if not TS.match(d["ts"]):
            sys.exit("%s:%d: ts=%s is not UTC with ms" % (path, no, d["ts"]))
        if d["level"] not in LEVELS or d["event"] not in EVENTS:
            sys.exit("%s:%d: level=%s event=%s outside the vocabulary" % (path, no, d["level"], d["event"]))
        seen += 1
    print(seen)


def matching(path, event, filters):
    want = dict(f.split("=", 1) for f in filters)
    for _, line in lines(path):
        d = dict(parse(line))
        if d.get("event") == event and all(d.get(k) == v for k, v in want.items()):
            yield d


if __name__ == "__main__":
    cmd, path = sys.argv[1], sys.argv[2]
    if cmd == "check":
        check(path)
    elif cmd == "get":
        last = None
        for d in matching(path, sys.argv[3], sys.argv[5:]):
            last = d
        if last is None or sys.argv[4] not in last:
            sys.exit(1)
        print(last[sys.argv[4]])
    elif cmd == "count":
        print(sum(1 for _ in matching(path, sys.argv[3], sys.argv[4:])))
    else:
        sys.exit(__doc__)
