-- Card and mobile-money checkouts (Pesapal) and payouts join redemptions in
-- the one ledger. SQLite cannot change a CHECK in place, so the table is
-- rebuilt with every row and index kept.
CREATE TABLE transactions_new (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    till_id TEXT NOT NULL,
    cashier TEXT NOT NULL,
    provider TEXT NOT NULL,
    operation TEXT NOT NULL CHECK (operation IN ('redeem', 'create_voucher', 'checkout', 'payout')),
    voucher_code TEXT,
    code_masked TEXT,
    amount_minor INTEGER,
    currency TEXT,
    state TEXT NOT NULL CHECK (state IN ('pending', 'completed', 'failed', 'unknown')),
    provider_reference TEXT,
    customer_name TEXT,
    outcome_message TEXT,
    owner TEXT NOT NULL,
    training INTEGER NOT NULL CHECK (training IN (0, 1))
) STRICT;
INSERT INTO transactions_new SELECT id, created_at, updated_at, till_id, cashier, provider, operation, voucher_code,
    code_masked, amount_minor, currency, state, provider_reference, customer_name, outcome_message, owner, training
    FROM transactions;
DROP TABLE transactions;
ALTER TABLE transactions_new RENAME TO transactions;

CREATE UNIQUE INDEX transactions_one_in_flight
    ON transactions (provider, voucher_code)
    WHERE state IN ('pending', 'unknown') AND voucher_code IS NOT NULL;
CREATE INDEX transactions_by_code ON transactions (provider, voucher_code, state);
CREATE INDEX transactions_by_created ON transactions (created_at);
CREATE INDEX transactions_open ON transactions (state) WHERE state IN ('pending', 'unknown');
CREATE INDEX transactions_by_reference ON transactions (provider, provider_reference) WHERE provider_reference IS NOT NULL;

-- Settings a provider hands back and the till must keep (Pesapal's ipn_id):
-- in the database, not in memory, per environment. Never secrets.
CREATE TABLE provider_settings (
    provider TEXT NOT NULL,
    environment TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (provider, environment, key)
) STRICT;
