#!/usr/bin/env python3
"""db_same.py A.db B.db — are two results databases the same, row for row,
up to ids, timings and host fields? Prints each differing row; exit 0 when
none differ, 1 otherwise, 2 on a usage or database error.

The comparison is SQL generated from the schema of A (sqlite_schema and the
table_info / foreign_key_list / index_list pragmas), so it covers every table
there is, including those a later schema adds, and the schema itself:
  - a table's own INTEGER PRIMARY KEY `id` is left out;
  - a column that refers to another table (a declared foreign key) is
    replaced by what identifies the row it names there: the columns of that
    table's first UNIQUE constraint (a run's config_hash, a component's kind,
    name, version, fingerprint and file hash), else its compared columns,
    recursively;
  - timings and host fields are left out: columns named *_at, *seconds,
    first_seen, last_seen, host, pid, and sweeps.command (its --db and
    --shard differ);
  - a merged database holds one sweep per shard where a single run holds
    one: `sweeps` is compared as a set of rows without shard_index and
    shard_count; every other table as a multiset (rows with their counts);
  - rows that hold a timing under a name are left out: in a table with a
    `name` or `key` column, rows named time.* (a run's time counters) or
    *_at (meta's created_at);
  - sqlite_sequence (the next ids) is left out.
"""
import sqlite3
import sys

IGNORED = {"first_seen", "last_seen", "host", "pid"}
IGNORED_IN = {"sweeps": {"command", "shard_index", "shard_count"}}
AS_SET = {"sweeps"}


def q(name):
    return '"' + name.replace('"', '""') + '"'


class Schema:
    def __init__(self, db):
        self.db = db
        self.tables = [r[0] for r in db.execute(
            "SELECT name FROM a.sqlite_schema WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite_%' ORDER BY name")]

    def cols(self, t):
        return self.db.execute(
            "SELECT name, pk, upper(type) FROM pragma_table_info(?, 'a') ORDER BY cid", (t,)).fetchall()

    def refs(self, t):
        return {r[0]: r[1] for r in self.db.execute(
            'SELECT "from", "table" FROM pragma_foreign_key_list(?, \'a\')', (t,))}

    def unique(self, t):
        for name, origin in self.db.execute(
                "SELECT name, origin FROM pragma_index_list(?, 'a') WHERE \"unique\""
                " ORDER BY seq DESC", (t,)):
            if origin == "u":
                return [r[0] for r in self.db.execute(
                    "SELECT name FROM pragma_index_info(?, 'a') ORDER BY seqno", (name,))]
        return None

    def compared(self, t):
        """The compared columns of t, as SQL expressions over alias x_t."""
        cols = self.cols(t)
        npk = sum(1 for c in cols if c[1] > 0)
        refs = self.refs(t)
        out = []
        for name, pk, typ in cols:
            if name == "id" and pk == 1 and npk == 1 and typ == "INTEGER":
                continue
            if name in IGNORED or name in IGNORED_IN.get(t, ()) or name.endswith("_at") \
                    or name.endswith("seconds"):
                continue
            out.append((name, self.expr(t, name, refs.get(name), "x_" + t, 0)))
        return out

    def expr(self, t, col, ref, alias, depth):
        if ref is None:
            return "%s.%s" % (alias, q(col))
        if depth > 4:
            raise SystemExit("db_same: references nest too deep at %s.%s" % (t, col))
        inner = "y%d_%s" % (depth, ref)
        key = self.unique(ref)
        if key:
            parts = ["quote(%s.%s)" % (inner, q(c)) for c in key]
        else:
            parts = []
            rrefs = self.refs(ref)
            for name, pk, typ in self.cols(ref):
                if name == "id" or name in IGNORED or name in IGNORED_IN.get(ref, ()) \
                        or name.endswith("_at") or name.endswith("seconds"):
                    continue
                parts.append("quote(%s)" % self.expr(ref, name, rrefs.get(name), inner, depth + 1))
        return "(SELECT %s FROM {db}.%s %s WHERE %s.id = %s.%s)" % (
            " || ',' || ".join(parts) or "''", q(ref), inner, inner, alias, q(col))


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    db = sqlite3.connect(":memory:")
    db.execute("ATTACH ? AS a", (sys.argv[1],))
    db.execute("ATTACH ? AS b", (sys.argv[2],))
    s = Schema(db)
    diffs = 0
    # the schema itself: every table, index, view and trigger, by its SQL
    for x, y, label in (("a", "b", "only in " + sys.argv[1]), ("b", "a", "only in " + sys.argv[2])):
        for row in db.execute("SELECT type, name, sql FROM %s.sqlite_schema EXCEPT"
                              " SELECT type, name, sql FROM %s.sqlite_schema" % (x, y)):
            print("schema %s: %s %s" % (label, row[0], row[1]))
            diffs += 1
    btables = {r[0] for r in db.execute("SELECT name FROM b.sqlite_schema WHERE type = 'table'")}
    for t in s.tables:
        if t not in btables:
            continue  # reported with the schema
        names = [n for n, _ in s.compared(t)]
        n = len(names) or 1
        cols = ", ".join("c%d" % i for i in range(n))

        def grouped(db_name):
            cols_sql = s.compared(t)
            exprs = [e.replace("{db}", db_name) for _, e in cols_sql] or ["''"]
            body = "SELECT %s%s FROM %s.%s x_%s WHERE 1" % (
                "DISTINCT " if t in AS_SET else "",
                ", ".join("%s AS c%d" % (e, i) for i, e in enumerate(exprs)), db_name, q(t), t)
            for c in ("name", "key"):
                if c in [x[0] for x in s.cols(t)]:
                    body += (" AND NOT (x_%s.%s LIKE 'time.%%' OR x_%s.%s LIKE '%%\\_at'"
                             " ESCAPE '\\')" % (t, c, t, c))
            return "SELECT %s, count(*) AS n FROM (%s) GROUP BY %s" % (cols, body, cols)

        for x, y, label in (("a", "b", sys.argv[1]), ("b", "a", sys.argv[2])):
            rows = db.execute("%s EXCEPT %s" % (grouped(x), grouped(y))).fetchall()
            for row in rows[:20]:
                print("%s: row only in %s (%d times): %s" % (
                    t, label, row[-1], dict(zip(names, row[:-1]))))
            if len(rows) > 20:
                print("%s: ... and %d more rows only in %s" % (t, len(rows) - 20, label))
            diffs += len(rows)
    counts = {}
    for t in s.tables:
        counts[t] = db.execute("SELECT count(*) FROM a.%s" % q(t)).fetchone()[0]
    print("compared %d tables (%s)" % (len(s.tables), ", ".join(
        "%s %d" % (t, counts[t]) for t in s.tables)))
    return 1 if diffs else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except sqlite3.Error as e:
        print("db_same: %s" % e, file=sys.stderr)
        sys.exit(2)
