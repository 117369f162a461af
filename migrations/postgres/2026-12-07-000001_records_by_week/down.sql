-- Weeks stay weeks: the code before this migration reads only day partitions'
-- names, so going back needs the records partitioned by day again, which is a copy
-- of every row. Refused rather than done silently.
DO $$ BEGIN RAISE EXCEPTION 'records partitioned by week cannot go back to days in place'; END $$;
