-- Each service creates and migrates its own schema (gateway, chart, analysis, storage, quota, notification)
-- at start-up. In production each may live in its own database; here they share one.
CREATE DATABASE chartwright;
