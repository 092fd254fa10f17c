-- 004: the SHA-256 of the body submitted with an Idempotency-Key, so that
-- the same key with a different body is refused (422) rather than
-- replayed. NULL for rows submitted without a key, or before this
-- migration (those replay on the key and row count alone).
ALTER TABLE evaluations ADD COLUMN idempotency_hash TEXT;
