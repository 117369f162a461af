DROP INDEX tokens_search_hint;
DROP INDEX tokens_search_description;
DROP INDEX tokens_search_name;
