-- The database roles of a production deployment (docs/production.md, "Database roles").
--
-- Three roles: the OWNER of the tables (the one `alembic upgrade head` runs as, never
-- used by the app), the APP (gunicorn and the e-mail worker), and RETENTION
-- (`flask intake retention`, once a day). Only an owner or a superuser can drop, disable
-- or replace the audit trail's triggers, or switch every trigger off
-- (session_replication_role): so neither the app's role nor the retention role may own
-- the tables or be a superuser. The app's role may only add to and read the audit trail
-- and the requests' history; the retention role may also delete old audit entries and
-- blank old notes, which the triggers allow only under its audit-maintenance switch.
--
-- Run as the owner, after every migration (it is idempotent, and a new table needs its
-- grants), with the roles' names as psql variables:
--
--   psql "$OWNER_DATABASE_URL" -v ON_ERROR_STOP=1 \
--        -v app_role=intake_app -v retention_role=intake_retention \
--        -f deploy/postgresql-roles.sql
--
-- tests/audit/test_database_roles.py runs this file and proves what it says.

GRANT USAGE ON SCHEMA public TO :"app_role", :"retention_role";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"app_role", :"retention_role";

-- The app reads and writes what it serves ...
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"app_role";
-- ... but the audit trail and the requests' history only grow, and the schema version
-- is the migrations'.
REVOKE UPDATE, DELETE ON audit_events, request_events FROM :"app_role";
REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM :"app_role";

-- Retention removes patient data of closed requests, old drafts and audit entries older
-- than AUDIT_RETENTION_YEARS, and writes what it did to the trail.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"retention_role";
REVOKE UPDATE ON audit_events FROM :"retention_role";
REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM :"retention_role";

-- Nobody but the owner empties a table at once.
REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM :"app_role", :"retention_role";
