-- PostgreSQL partitions the call log and the records by day in this migration. SQLite
-- has no partitions: its retention deletes in small batches instead. Nothing changes.
SELECT 1;
