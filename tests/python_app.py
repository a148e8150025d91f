"""A small application on the lsm virtual table, run with Debian's
/usr/bin/python3, whose sqlite3 module can load extensions.

    /usr/bin/python3 tests/python_app.py EXTENSION DATADIR

It keeps a little inventory in an lsm table and the same in a native
table, works through them with the usual Python idioms (executemany,
parameters, implicit transactions, commit, rollback, a failing batch),
and exits non-zero at the first disagreement.
"""
import os
import random
import sqlite3
import sys


def main():
    ext, datadir = sys.argv[1], sys.argv[2]
    con = sqlite3.connect("python_app.db")
    con.enable_load_extension(True)
    con.load_extension(ext)
    con.enable_load_extension(False)
    con.execute("DROP TABLE IF EXISTS stock")
    con.execute("DROP TABLE IF EXISTS native")
    con.execute(
        "CREATE VIRTUAL TABLE stock USING lsm(%s, sku TEXT, name TEXT, "
        "qty INTEGER, price REAL)" % datadir)
    con.execute("CREATE TABLE native(sku TEXT PRIMARY KEY, name TEXT, "
                "qty INTEGER, price REAL) WITHOUT ROWID")
    con.commit()

    rng = random.Random(20240601)
    rows = [("sku%05d" % i, "item %d" % i, rng.randrange(100),
             rng.randrange(1, 10000) / 100) for i in range(2000)]
    for table in ("stock", "native"):
        con.executemany("INSERT INTO %s VALUES(?, ?, ?, ?)" % table, rows)
    con.commit()

    def same(sql, params=()):
        a = con.execute(sql % "stock", params).fetchall()
        b = con.execute(sql % "native", params).fetchall()
        if a != b:
            sys.exit("differs: %s %r\n lsm: %r\n native: %r"
                     % (sql, params, a[:5], b[:5]))
        return a

    same("SELECT count(*), sum(qty), total(price) FROM %s")
    same("SELECT * FROM %s WHERE sku = ?", ("sku00042",))
    same("SELECT * FROM %s WHERE sku >= ? AND sku < ? ORDER BY sku DESC",
         ("sku01000", "sku01010"))
    same("SELECT sku FROM %s WHERE sku LIKE 'SKU0199%%'")
    same("SELECT sku, qty FROM %s ORDER BY sku LIMIT 5 OFFSET 10")

    # updates in an implicit transaction, then commit
    for table in ("stock", "native"):
        con.execute("UPDATE %s SET qty = qty + 1 WHERE sku < 'sku00100'" % table)
        con.execute("DELETE FROM %s WHERE qty = 0" % table)
    con.commit()
    same("SELECT count(*), sum(qty) FROM %s")

    # rolled back work leaves no trace
    for table in ("stock", "native"):
        con.execute("DELETE FROM %s" % table)
    con.rollback()
    same("SELECT count(*) FROM %s")

    # a batch that fails on a duplicate key keeps the earlier statements
    for table in ("stock", "native"):
        try:
            con.executemany("INSERT INTO %s VALUES(?, ?, ?, ?)" % table,
                            [("new1", "n", 1, 1.0), ("sku00001", "dup", 1, 1.0)])
            sys.exit("duplicate key accepted")
        except sqlite3.IntegrityError as e:
            if "UNIQUE constraint failed" not in str(e):
                sys.exit("unexpected error: %s" % e)
    con.commit()
    same("SELECT * FROM %s WHERE sku IN ('new1', 'sku00001')")

    # reopen: the data is still there
    con.close()
    con = sqlite3.connect("python_app.db")
    con.enable_load_extension(True)
    con.load_extension(ext)
    same("SELECT count(*), sum(qty), total(price) FROM %s")
    con.execute("DROP TABLE stock")
    con.commit()
    if os.path.exists(datadir):
        sys.exit("DROP TABLE left %s behind" % datadir)
    con.close()
    print("python app: ok")


if __name__ == "__main__":
    main()
