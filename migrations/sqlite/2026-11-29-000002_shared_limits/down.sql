DROP TABLE login_failures;
DROP TABLE limit_blocks;
DROP TABLE limit_windows;
