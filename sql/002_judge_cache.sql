-- 002: the judge reply cache, until now created at run time by the LLM
-- judge. IF NOT EXISTS: a version-1 database may already hold the table
-- (and its rows), made by an older ragrade.
CREATE TABLE IF NOT EXISTS judge_cache (
    key TEXT PRIMARY KEY,          -- SHA-256 hex of backend, path and request body
    reply TEXT NOT NULL,           -- the reply's content (JSON text)
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    created_at TEXT                -- ISO 8601 UTC with milliseconds
);
