-- How to launch a task beyond its command (environment, resources), kept so that a task
-- recorded but not yet submitted when the server died is submitted as planned. NULL: none.
ALTER TABLE tasks ADD COLUMN launch_spec TEXT;
