-- The manager's history screen: filters, newest-first pages and totals
-- (ledger/history.rs). Each index starts with the filter it serves (none,
-- provider, state, cashier), then time, so a page walks backwards from its
-- cursor and stops after a page of rows. `training` is not a leading
-- column: without ANALYZE statistics SQLite takes any equality for a sharp
-- one, and would walk a training-led index for a provider or state filter;
-- training rows are skipped inside the index instead. The first index also
-- carries what the totals read, so the partial days at the ends of a period
-- (and any period shorter than a day) are counted from the index alone.
CREATE INDEX transactions_history
    ON transactions (created_at, training, provider, operation, state, currency, amount_minor);
CREATE INDEX transactions_history_provider ON transactions (provider, created_at);
CREATE INDEX transactions_history_state ON transactions (state, created_at);
-- One cashier's history (names compared in any case).
CREATE INDEX transactions_history_cashier ON transactions (cashier COLLATE NOCASE, created_at);
-- transactions_history begins with created_at: it serves the newest-first
-- list this index served.
DROP INDEX transactions_by_created;

-- Totals per UTC day, so a month's or a year's totals read a few rows per
-- day instead of every transaction (ledger/history.rs adds the partial days
-- at the ends of a period from the transactions). Kept by the triggers
-- below, in the same transaction as each change, so it can never disagree
-- with the transactions. `currency` is '' where a transaction has none.
CREATE TABLE transaction_day_totals (
    day TEXT NOT NULL,                   -- substr(created_at, 1, 10): the UTC date
    training INTEGER NOT NULL,
    currency TEXT NOT NULL,
    provider TEXT NOT NULL,
    operation TEXT NOT NULL,
    state TEXT NOT NULL,
    n INTEGER NOT NULL,
    total INTEGER NOT NULL,              -- SUM(amount_minor), integer minor units
    PRIMARY KEY (day, training, currency, provider, operation, state)
) STRICT, WITHOUT ROWID;

INSERT INTO transaction_day_totals
    SELECT substr(created_at, 1, 10), training, COALESCE(currency, ''), provider, operation, state, COUNT(*),
        COALESCE(SUM(amount_minor), 0)
    FROM transactions GROUP BY 1, 2, 3, 4, 5, 6;

CREATE TRIGGER transaction_day_totals_insert AFTER INSERT ON transactions
BEGIN
    INSERT INTO transaction_day_totals VALUES (substr(NEW.created_at, 1, 10), NEW.training,
        COALESCE(NEW.currency, ''), NEW.provider, NEW.operation, NEW.state, 1, COALESCE(NEW.amount_minor, 0))
    ON CONFLICT (day, training, currency, provider, operation, state)
    DO UPDATE SET n = n + 1, total = total + excluded.total;
END;

CREATE TRIGGER transaction_day_totals_update
AFTER UPDATE OF created_at, training, currency, provider, operation, state, amount_minor ON transactions
BEGIN
    UPDATE transaction_day_totals SET n = n - 1, total = total - COALESCE(OLD.amount_minor, 0)
    WHERE day = substr(OLD.created_at, 1, 10) AND training = OLD.training AND currency = COALESCE(OLD.currency, '')
        AND provider = OLD.provider AND operation = OLD.operation AND state = OLD.state;
    INSERT INTO transaction_day_totals VALUES (substr(NEW.created_at, 1, 10), NEW.training,
        COALESCE(NEW.currency, ''), NEW.provider, NEW.operation, NEW.state, 1, COALESCE(NEW.amount_minor, 0))
    ON CONFLICT (day, training, currency, provider, operation, state)
    DO UPDATE SET n = n + 1, total = total + excluded.total;
END;

CREATE TRIGGER transaction_day_totals_delete AFTER DELETE ON transactions
BEGIN
    UPDATE transaction_day_totals SET n = n - 1, total = total - COALESCE(OLD.amount_minor, 0)
    WHERE day = substr(OLD.created_at, 1, 10) AND training = OLD.training AND currency = COALESCE(OLD.currency, '')
        AND provider = OLD.provider AND operation = OLD.operation AND state = OLD.state;
END;
