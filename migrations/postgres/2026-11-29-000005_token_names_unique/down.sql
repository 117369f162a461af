DROP INDEX tokens_name_unique;
