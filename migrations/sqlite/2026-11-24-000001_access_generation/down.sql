DROP TABLE access_generation;
