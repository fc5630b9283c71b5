-- Device tokens (issue 14): a sensor posts its observations with a bearer token of its Thing,
-- not a person's sign-in. Only the SHA-256 of a token is stored (tokens are 256 random bits,
-- so a fast hash suffices); the token itself is shown once, when it is made.
CREATE TABLE ioc.device_tokens (
    id bigserial PRIMARY KEY,
    thing_id bigint NOT NULL REFERENCES ioc.things ON DELETE CASCADE,
    token_sha256 bytea NOT NULL UNIQUE CHECK (length(token_sha256) = 32),
    -- The token's first characters, to tell tokens apart in lists.
    hint text NOT NULL,
    label text NOT NULL DEFAULT '',
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz,
    last_used_at timestamptz
);
CREATE INDEX ON ioc.device_tokens (thing_id);
