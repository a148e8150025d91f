-- demo.sql -- a tour of the lsm virtual table.
--
-- Run from the top of the source tree with
--     make demo
-- which is
--     sqlite3 :memory: -cmd ".load ./lsmvtab" < sql/demo.sql
-- It keeps its data in ./demo_kv (beside the database file demo.db) and
-- removes both at the end, so it can run again.

.open --new demo.db
.load ./lsmvtab
.headers on
.mode box

-- 1. A table whose rows live in the directory demo_kv/ beside demo.db.
--    The first column is the primary key; the others hold values.
CREATE VIRTUAL TABLE fruit USING lsm(demo_kv, name TEXT, color TEXT, price REAL);

INSERT INTO fruit VALUES
  ('apple', 'red', 0.5), ('apricot', 'orange', 0.75), ('banana', 'yellow', 0.25),
  ('blackberry', 'black', 2), ('cherry', 'red', 3), ('grape', 'green', 2.5),
  ('kiwi', 'brown', 0.4), ('lemon', 'yellow', 0.3), ('mango', 'orange', 1.2),
  ('pear', 'green', 0.6), ('plum', 'purple', 0.8);

-- the key is unique, as in any table with a PRIMARY KEY
INSERT OR REPLACE INTO fruit VALUES('kiwi', 'green', 0.45);

-- 2. A point lookup, and a range: both read only the keys they need
SELECT * FROM fruit WHERE name = 'cherry';
SELECT name, price FROM fruit WHERE name >= 'b' AND name < 'g';

-- 3. A prefix: LIKE and GLOB become key ranges
SELECT name FROM fruit WHERE name LIKE 'ap%';
SELECT name FROM fruit WHERE name GLOB 'p*';

-- 4. Newest-first order costs nothing: the scan runs backwards
SELECT name, color FROM fruit ORDER BY name DESC LIMIT 4;
EXPLAIN QUERY PLAN SELECT * FROM fruit WHERE name > 'k' ORDER BY name DESC;

-- 5. Transactions: a rolled-back change leaves no trace
BEGIN;
DELETE FROM fruit WHERE color = 'green';
SELECT count(*) AS during_txn FROM fruit;
ROLLBACK;
SELECT count(*) AS after_rollback FROM fruit;

-- 6. Keys of any type, in SQLite's order: numbers, then text, then blobs
CREATE VIRTUAL TABLE mixed USING lsm(demo_kv/mixed);
INSERT INTO mixed VALUES (x'ff', 'a blob'), ('10', 'text'), (10, 'integer'),
                         (2.5, 'real'), (-1, 'negative');
SELECT quote(key) AS key, typeof(key) AS type, value FROM mixed ORDER BY key;
DROP TABLE mixed;

-- 7. Reopen the database: the rows were on disk all along
.open demo.db
.load ./lsmvtab
SELECT count(*) AS rows_after_reopen, sum(price) AS total FROM fruit;

-- 8. Clean up: DROP TABLE removes the engine's files and the directory
DROP TABLE fruit;
.shell rm -f demo.db
