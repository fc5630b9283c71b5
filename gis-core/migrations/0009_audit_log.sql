-- The audit log (issue 10): every refused request (401/403) and every write, who asked, what
-- and why it was refused. Written in batches by the server's background writer, read by
-- admins at /admin/audit, newest first (by id). Never holds a token: paths are stored with
-- token-like query values removed, details are the server's own problem text.
CREATE TABLE platform.audit_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at  timestamptz NOT NULL,
    actor        text NOT NULL,          -- username, or 'anonymous'
    subject      text,                   -- the provider's stable id (sub), when signed in
    roles        text[] NOT NULL DEFAULT '{}',
    event        text NOT NULL CHECK (event IN ('denied', 'write')),
    method       text NOT NULL,
    path         text NOT NULL,
    status       smallint NOT NULL,
    detail       text,
    client_addr  inet,
    request_id   text
);

-- Filters of /admin/audit (actor, status) page newest first; retention deletes by time.
CREATE INDEX audit_log_actor ON platform.audit_log (actor, id DESC);
CREATE INDEX audit_log_status ON platform.audit_log (status, id DESC);
CREATE INDEX audit_log_occurred_at ON platform.audit_log (occurred_at);
