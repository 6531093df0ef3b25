-- What the history screen reads without visiting every transaction of a
-- period (ledger/history.rs, history/daily.rs, history/search.rs). Each
-- table is kept by the triggers below, in the same transaction as each
-- change to a transaction, exactly as 004's daily totals are, and filled
-- here from the transactions a till already has.

-- One cashier's totals per UTC day: a year of one cashier reads a few rows
-- per day. A cashier is compared in any case, as the history's filter and
-- the staff table do, so "Amina" and "amina" share their rows.
CREATE TABLE transaction_cashier_day_totals (
    cashier TEXT NOT NULL COLLATE NOCASE,
    day TEXT NOT NULL,                   -- substr(created_at, 1, 10): the UTC date
    training INTEGER NOT NULL,
    currency TEXT NOT NULL,              -- '' where a transaction has none
    provider TEXT NOT NULL,
    operation TEXT NOT NULL,
    state TEXT NOT NULL,
    n INTEGER NOT NULL,
    total INTEGER NOT NULL,
    PRIMARY KEY (cashier, day, training, currency, provider, operation, state)
) STRICT, WITHOUT ROWID;

INSERT INTO transaction_cashier_day_totals
    SELECT cashier, substr(created_at, 1, 10), training, COALESCE(currency, ''), provider, operation, state,
        COUNT(*), COALESCE(SUM(amount_minor), 0)
    FROM transactions GROUP BY cashier COLLATE NOCASE, 2, 3, 4, 5, 6, 7;

-- Totals per UTC hour: a local day of the chart is whole UTC days plus or
-- minus the hours between its midnight and the nearest UTC midnight, read
-- here instead of from every transaction of those hours.
CREATE TABLE transaction_hour_totals (
    hour TEXT NOT NULL,                  -- substr(created_at, 1, 13): '2026-11-25T17'
    training INTEGER NOT NULL,
    currency TEXT NOT NULL,
    provider TEXT NOT NULL,
    operation TEXT NOT NULL,
    state TEXT NOT NULL,
    n INTEGER NOT NULL,
    total INTEGER NOT NULL,
    PRIMARY KEY (hour, training, currency, provider, operation, state)
) STRICT, WITHOUT ROWID;

INSERT INTO transaction_hour_totals
    SELECT substr(created_at, 1, 13), training, COALESCE(currency, ''), provider, operation, state, COUNT(*),
        COALESCE(SUM(amount_minor), 0)
    FROM transactions GROUP BY 1, 2, 3, 4, 5, 6;

CREATE TRIGGER transaction_more_totals_insert AFTER INSERT ON transactions
BEGIN
    INSERT INTO transaction_cashier_day_totals VALUES (NEW.cashier, substr(NEW.created_at, 1, 10), NEW.training,
        COALESCE(NEW.currency, ''), NEW.provider, NEW.operation, NEW.state, 1, COALESCE(NEW.amount_minor, 0))
    ON CONFLICT (cashier, day, training, currency, provider, operation, state)
    DO UPDATE SET n = n + 1, total = total + excluded.total;
    INSERT INTO transaction_hour_totals VALUES (substr(NEW.created_at, 1, 13), NEW.training,
        COALESCE(NEW.currency, ''), NEW.provider, NEW.operation, NEW.state, 1, COALESCE(NEW.amount_minor, 0))
    ON CONFLICT (hour, training, currency, provider, operation, state)
    DO UPDATE SET n = n + 1, total = total + excluded.total;
END;

CREATE TRIGGER transaction_more_totals_update
AFTER UPDATE OF created_at, cashier, training, currency, provider, operation, state, amount_minor ON transactions
BEGIN
    UPDATE transaction_cashier_day_totals SET n = n - 1, total = total - COALESCE(OLD.amount_minor, 0)
    WHERE cashier = OLD.cashier AND day = substr(OLD.created_at, 1, 10) AND training = OLD.training
        AND currency = COALESCE(OLD.currency, '') AND provider = OLD.provider AND operation = OLD.operation
        AND state = OLD.state;
    INSERT INTO transaction_cashier_day_totals VALUES (NEW.cashier, substr(NEW.created_at, 1, 10), NEW.training,
        COALESCE(NEW.currency, ''), NEW.provider, NEW.operation, NEW.state, 1, COALESCE(NEW.amount_minor, 0))
    ON CONFLICT (cashier, day, training, currency, provider, operation, state)
    DO UPDATE SET n = n + 1, total = total + excluded.total;
    UPDATE transaction_hour_totals SET n = n - 1, total = total - COALESCE(OLD.amount_minor, 0)
    WHERE hour = substr(OLD.created_at, 1, 13) AND training = OLD.training AND currency = COALESCE(OLD.currency, '')
        AND provider = OLD.provider AND operation = OLD.operation AND state = OLD.state;
    INSERT INTO transaction_hour_totals VALUES (substr(NEW.created_at, 1, 13), NEW.training,
        COALESCE(NEW.currency, ''), NEW.provider, NEW.operation, NEW.state, 1, COALESCE(NEW.amount_minor, 0))
    ON CONFLICT (hour, training, currency, provider, operation, state)
    DO UPDATE SET n = n + 1, total = total + excluded.total;
END;

CREATE TRIGGER transaction_more_totals_delete AFTER DELETE ON transactions
BEGIN
    UPDATE transaction_cashier_day_totals SET n = n - 1, total = total - COALESCE(OLD.amount_minor, 0)
    WHERE cashier = OLD.cashier AND day = substr(OLD.created_at, 1, 10) AND training = OLD.training
        AND currency = COALESCE(OLD.currency, '') AND provider = OLD.provider AND operation = OLD.operation
        AND state = OLD.state;
    UPDATE transaction_hour_totals SET n = n - 1, total = total - COALESCE(OLD.amount_minor, 0)
    WHERE hour = substr(OLD.created_at, 1, 13) AND training = OLD.training AND currency = COALESCE(OLD.currency, '')
        AND provider = OLD.provider AND operation = OLD.operation AND state = OLD.state;
END;

-- A trigram index of what a search fragment is looked for in (the code,
-- its masked form, the provider's reference, our id), so a fragment of
-- three or more characters finds its few transactions without reading the
-- period. Contentless: it holds no copy of a code, only which transactions
-- hold each trigram (detail=none: no positions, a third of the size). It
-- only narrows: history/search.rs still tests each transaction it names
-- with the search's own LIKE, so what a search finds is unchanged.
-- Documents are numbered in transaction_search_docs, whose INTEGER PRIMARY
-- KEY (unlike the transactions' implicit rowid) survives a VACUUM.
CREATE TABLE transaction_search_docs (
    docid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE              -- transactions.id
) STRICT;
CREATE VIRTUAL TABLE transaction_search USING fts5(
    voucher_code, code_masked, provider_reference, id,
    content = '', contentless_delete = 1, detail = none, tokenize = 'trigram'
);

INSERT INTO transaction_search_docs (id) SELECT id FROM transactions ORDER BY created_at, id;
INSERT INTO transaction_search (rowid, voucher_code, code_masked, provider_reference, id)
    SELECT d.docid, t.voucher_code, t.code_masked, t.provider_reference, t.id
    FROM transaction_search_docs d JOIN transactions t ON t.id = d.id;

CREATE TRIGGER transaction_search_insert AFTER INSERT ON transactions
BEGIN
    INSERT INTO transaction_search_docs (id) VALUES (NEW.id);
    INSERT INTO transaction_search (rowid, voucher_code, code_masked, provider_reference, id)
        VALUES ((SELECT docid FROM transaction_search_docs WHERE id = NEW.id), NEW.voucher_code, NEW.code_masked,
            NEW.provider_reference, NEW.id);
END;

-- An outcome sets provider_reference even when it brings none (COALESCE):
-- only a real change re-indexes the row.
CREATE TRIGGER transaction_search_update
AFTER UPDATE OF id, voucher_code, code_masked, provider_reference ON transactions
WHEN OLD.id IS NOT NEW.id OR OLD.voucher_code IS NOT NEW.voucher_code OR OLD.code_masked IS NOT NEW.code_masked
    OR OLD.provider_reference IS NOT NEW.provider_reference
BEGIN
    DELETE FROM transaction_search WHERE rowid = (SELECT docid FROM transaction_search_docs WHERE id = OLD.id);
    UPDATE transaction_search_docs SET id = NEW.id WHERE id = OLD.id;
    INSERT INTO transaction_search (rowid, voucher_code, code_masked, provider_reference, id)
        VALUES ((SELECT docid FROM transaction_search_docs WHERE id = NEW.id), NEW.voucher_code, NEW.code_masked,
            NEW.provider_reference, NEW.id);
END;

CREATE TRIGGER transaction_search_delete AFTER DELETE ON transactions
BEGIN
    DELETE FROM transaction_search WHERE rowid = (SELECT docid FROM transaction_search_docs WHERE id = OLD.id);
    DELETE FROM transaction_search_docs WHERE id = OLD.id;
END;
