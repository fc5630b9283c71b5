-- Documents kept in a configured directory (`[planning] documents_dir`) instead of the
-- database: the row holds the path relative to that directory (never absolute, never through
-- `..`; the server checks again that the resolved file lies inside the directory) and the size
-- when it was added. A document has either bytes or a path.
ALTER TABLE planning.plan_documents ALTER COLUMN content DROP NOT NULL;
ALTER TABLE planning.plan_documents ADD COLUMN path text
    CHECK (path <> '' AND path !~ '^/' AND path !~ '(^|/)\.\.(/|$)' AND strpos(path, '\') = 0);
ALTER TABLE planning.plan_documents ADD COLUMN file_bytes bigint CHECK (file_bytes >= 0);
ALTER TABLE planning.plan_documents ADD CONSTRAINT plan_documents_content_or_path
    CHECK ((content IS NULL) <> (path IS NULL));
