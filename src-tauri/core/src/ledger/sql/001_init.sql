-- Every money-moving operation, from the intent written before the provider
-- is called to its outcome.
CREATE TABLE transactions (
    id TEXT PRIMARY KEY,                 -- UUID v7, also sent to the provider as our reference
    created_at TEXT NOT NULL,            -- RFC 3339, UTC
    updated_at TEXT NOT NULL,
    till_id TEXT NOT NULL,
    cashier TEXT NOT NULL,
    provider TEXT NOT NULL,
    operation TEXT NOT NULL CHECK (operation IN ('redeem', 'create_voucher')),
    voucher_code TEXT,                   -- full code: needed to reconcile; shown only masked
    code_masked TEXT,
    amount_minor INTEGER,
    currency TEXT,
    state TEXT NOT NULL CHECK (state IN ('pending', 'completed', 'failed', 'unknown')),
    provider_reference TEXT,
    customer_name TEXT,
    outcome_message TEXT,
    owner TEXT NOT NULL,                 -- the process lease that wrote the intent
    training INTEGER NOT NULL CHECK (training IN (0, 1))
) STRICT;

-- One voucher, one redemption in flight: a second till, a double click or a
-- retry cannot start another while one is pending or unknown.
CREATE UNIQUE INDEX transactions_one_in_flight
    ON transactions (provider, voucher_code)
    WHERE state IN ('pending', 'unknown') AND voucher_code IS NOT NULL;
CREATE INDEX transactions_by_code ON transactions (provider, voucher_code, state);
CREATE INDEX transactions_by_created ON transactions (created_at);
CREATE INDEX transactions_open ON transactions (state) WHERE state IN ('pending', 'unknown');

-- The append-only, hash-chained audit log (PCI DSS 10.2.2: who, what, when,
-- success or failure, where from, what it touched).
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    till_id TEXT NOT NULL,
    actor TEXT NOT NULL,
    event TEXT NOT NULL,
    provider TEXT,
    subject TEXT,
    transaction_id TEXT,
    amount_minor INTEGER,
    currency TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'info')),
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
) STRICT;
CREATE INDEX audit_by_transaction ON audit_log (transaction_id) WHERE transaction_id IS NOT NULL;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
