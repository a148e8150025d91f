-- transactions.sql -- transactions of the lsm virtual table with its
-- database: one commit for both, DROP that rolls back, the shadow table.
--
-- Run from the top of the source tree (after make) with
--     sqlite3 :memory: < sql/transactions.sql
-- It keeps its data in ./txn_demo_kv beside txn_demo.db and removes both
-- at the end, so it can run again.

.open --new txn_demo.db
.load ./lsmvtab
.headers on
.mode box

CREATE VIRTUAL TABLE account USING lsm(txn_demo_kv, name TEXT, balance INTEGER);
CREATE TABLE ledger(id INTEGER PRIMARY KEY, name TEXT, amount INTEGER);
INSERT INTO account VALUES('alice', 100), ('bob', 50);

-- 1. One transaction over the lsm table and a native table: both commit
--    together, or (here) neither does.
BEGIN;
UPDATE account SET balance = balance - 30 WHERE name = 'alice';
UPDATE account SET balance = balance + 30 WHERE name = 'bob';
INSERT INTO ledger(name, amount) VALUES('alice', -30), ('bob', 30);
SELECT name, balance AS inside_the_transaction FROM account;
ROLLBACK;
SELECT (SELECT sum(balance) FROM account) AS total,
       (SELECT count(*) FROM ledger) AS ledger_rows;

-- 2. Savepoints undo exactly what came after them.
BEGIN;
UPDATE account SET balance = balance - 30 WHERE name = 'alice';
SAVEPOINT transfer;
UPDATE account SET balance = balance + 1000 WHERE name = 'bob';
ROLLBACK TO transfer;
UPDATE account SET balance = balance + 30 WHERE name = 'bob';
INSERT INTO ledger(name, amount) VALUES('alice', -30), ('bob', 30);
COMMIT;
SELECT * FROM account;

-- 3. The shadow table: the number of the table's last transaction,
--    committed by the database together with the rest.
SELECT txn AS last_transaction FROM account_lsmtx;

-- 4. A DROP that rolls back keeps every row; the files wait for the
--    commit (lsmvtab_pending shows the work waiting).
BEGIN;
DROP TABLE account;
SELECT action, savepoint FROM lsmvtab_pending;
ROLLBACK;
SELECT count(*) AS rows_after_rollback FROM account;

DROP TABLE account;
DROP TABLE ledger;
.open :memory:
.shell rm -f txn_demo.db
