DROP TABLE token_policy;
