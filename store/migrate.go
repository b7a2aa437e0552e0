package store

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"gorm.io/gorm"
)

// migration is one versioned schema change. Its DDL is written once for both
// databases; the {{…}} placeholders expand to each dialect's column types.
type migration struct {
	version int
	name    string
	ddl     []string
}

// migrations is the schema's history. Append only: a released migration never changes.
var migrations = []migration{
	{1, "api keys and settings", []string{
		`CREATE TABLE api_keys (
			id            VARCHAR(24) PRIMARY KEY,
			client_id     VARCHAR(40) NOT NULL,
			secret_digest {{bytes}} NOT NULL,
			secret_sealed {{bytes}} NOT NULL,
			is_active     {{bool}} NOT NULL,
			created_at    {{time}} NOT NULL,
			updated_at    {{time}} NOT NULL,
			name          VARCHAR(200) NOT NULL,
			description   TEXT,
			user_name     VARCHAR(200),
			device_name   VARCHAR(200),
			permissions   TEXT NOT NULL,
			version       BIGINT NOT NULL
		)`,
		`CREATE UNIQUE INDEX api_keys_client_id ON api_keys (client_id)`,
		`CREATE UNIQUE INDEX api_keys_secret_digest ON api_keys (secret_digest)`,
		`CREATE INDEX api_keys_created_at ON api_keys (created_at, id)`,
		`CREATE INDEX api_keys_name ON api_keys (name, id)`,
		`CREATE TABLE settings (
			name       VARCHAR(100) PRIMARY KEY,
			value      TEXT NOT NULL,
			updated_at {{time}} NOT NULL
		)`,
	}},
	{2, "identity: organizations, workspaces, users, roles, sessions; key scope and rotation", []string{
		`CREATE TABLE organizations (
			id          VARCHAR(16) PRIMARY KEY,
			name        VARCHAR(200) NOT NULL,
			description TEXT,
			properties  TEXT NOT NULL,
			owner_id    VARCHAR(24),
			version     BIGINT NOT NULL,
			created_at  {{time}} NOT NULL,
			updated_at  {{time}} NOT NULL
		)`,
		`CREATE INDEX organizations_name ON organizations (name, id)`,
		`CREATE TABLE workspaces (
			id              VARCHAR(16) PRIMARY KEY,
			organization_id VARCHAR(16) NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
			name            VARCHAR(200) NOT NULL,
			description     TEXT,
			properties      TEXT NOT NULL,
			settings        TEXT NOT NULL,
			version         BIGINT NOT NULL,
			created_at      {{time}} NOT NULL,
			updated_at      {{time}} NOT NULL
		)`,
		`CREATE INDEX workspaces_organization ON workspaces (organization_id, name, id)`,
		`CREATE TABLE users (
			id            VARCHAR(24) PRIMARY KEY,
			user_name     VARCHAR(200) NOT NULL,
			display_name  VARCHAR(200),
			email         VARCHAR(254),
			password_hash TEXT NOT NULL,
			is_active     {{bool}} NOT NULL,
			roles         TEXT NOT NULL,
			version       BIGINT NOT NULL,
			created_at    {{time}} NOT NULL,
			updated_at    {{time}} NOT NULL
		)`,
		`CREATE UNIQUE INDEX users_user_name ON users (user_name)`,
		`CREATE TABLE roles (
			name        VARCHAR(64) PRIMARY KEY,
			label       VARCHAR(200),
			description TEXT,
			rights      TEXT NOT NULL,
			version     BIGINT NOT NULL,
			created_at  {{time}} NOT NULL,
			updated_at  {{time}} NOT NULL
		)`,
		`CREATE TABLE organization_members (
			organization_id VARCHAR(16) NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
			user_id         VARCHAR(24) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
			role            VARCHAR(20) NOT NULL,
			created_at      {{time}} NOT NULL,
			PRIMARY KEY (organization_id, user_id)
		)`,
		`CREATE INDEX organization_members_user ON organization_members (user_id)`,
		`CREATE TABLE workspace_members (
			workspace_id    VARCHAR(16) NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
			user_id         VARCHAR(24) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
			organization_id VARCHAR(16) NOT NULL,
			role            VARCHAR(20) NOT NULL,
			created_at      {{time}} NOT NULL,
			PRIMARY KEY (workspace_id, user_id)
		)`,
		`CREATE INDEX workspace_members_user ON workspace_members (user_id)`,
		`CREATE TABLE sessions (
			id             VARCHAR(24) PRIMARY KEY,
			user_id        VARCHAR(24) NOT NULL REFERENCES users (id) ON DELETE CASCADE,
			device_name    VARCHAR(200),
			refresh_digest {{bytes}} NOT NULL,
			created_at     {{time}} NOT NULL,
			expires_at     {{time}} NOT NULL,
			revoked_at     {{time}}
		)`,
		`CREATE UNIQUE INDEX sessions_refresh_digest ON sessions (refresh_digest)`,
		`CREATE TABLE signature_replays (
			signature  VARCHAR(64) PRIMARY KEY,
			expires_at {{time}} NOT NULL
		)`,
		`CREATE INDEX signature_replays_expires ON signature_replays (expires_at)`,
		`CREATE TABLE audit_events (
			id            {{serial}},
			at            {{time}} NOT NULL,
			actor         VARCHAR(200) NOT NULL,
			action        VARCHAR(40) NOT NULL,
			resource_type VARCHAR(40) NOT NULL,
			resource_id   VARCHAR(64) NOT NULL,
			outcome       VARCHAR(20) NOT NULL,
			request_id    VARCHAR(64) NOT NULL,
			detail        TEXT
		)`,
		`CREATE INDEX audit_events_at ON audit_events (at, id)`,
		`ALTER TABLE api_keys ADD COLUMN organization_id VARCHAR(16) REFERENCES organizations (id) ON DELETE CASCADE`,
		`ALTER TABLE api_keys ADD COLUMN expires_at {{time}}`,
		`ALTER TABLE api_keys ADD COLUMN last_used_at {{time}}`,
		`ALTER TABLE api_keys ADD COLUMN prev_secret_digest {{bytes}}`,
		`ALTER TABLE api_keys ADD COLUMN prev_secret_sealed {{bytes}}`,
		`ALTER TABLE api_keys ADD COLUMN prev_secret_expires_at {{time}}`,
		`CREATE INDEX api_keys_organization ON api_keys (organization_id, id)`,
		`CREATE INDEX api_keys_prev_secret_digest ON api_keys (prev_secret_digest)`,
	}},
	{3, "devices, device types, data flows, samples, idempotency keys", []string{
		`CREATE TABLE device_types (
			id              VARCHAR(16) PRIMARY KEY,
			organization_id VARCHAR(16) NOT NULL,
			workspace_id    VARCHAR(16) NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
			name            VARCHAR(200) NOT NULL,
			description     TEXT,
			schemas         TEXT NOT NULL,
			version         BIGINT NOT NULL,
			created_at      {{time}} NOT NULL,
			updated_at      {{time}} NOT NULL
		)`,
		`CREATE INDEX device_types_workspace ON device_types (workspace_id, name, id)`,
		`CREATE TABLE data_flows (
			id                VARCHAR(16) PRIMARY KEY,
			organization_id   VARCHAR(16) NOT NULL,
			workspace_id      VARCHAR(16) NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
			device_type_id    VARCHAR(16) NOT NULL REFERENCES device_types (id),
			name              VARCHAR(200) NOT NULL,
			description       TEXT,
			output_connectors TEXT NOT NULL,
			version           BIGINT NOT NULL,
			created_at        {{time}} NOT NULL,
			updated_at        {{time}} NOT NULL
		)`,
		`CREATE INDEX data_flows_workspace ON data_flows (workspace_id, name, id)`,
		`CREATE INDEX data_flows_device_type ON data_flows (device_type_id)`,
		`CREATE TABLE devices (
			id              VARCHAR(16) PRIMARY KEY,
			organization_id VARCHAR(16) NOT NULL,
			workspace_id    VARCHAR(16) NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
			device_id       VARCHAR(200) NOT NULL,
			data_flow_id    VARCHAR(16) NOT NULL REFERENCES data_flows (id),
			name            VARCHAR(200) NOT NULL,
			description     TEXT,
			connectivity    VARCHAR(10) NOT NULL,
			online_timeout  INTEGER NOT NULL,
			properties      TEXT NOT NULL,
			last_sample_at  {{time}},
			version         BIGINT NOT NULL,
			created_at      {{time}} NOT NULL,
			updated_at      {{time}} NOT NULL
		)`,
		`CREATE UNIQUE INDEX devices_workspace_device_id ON devices (workspace_id, device_id)`,
		`CREATE INDEX devices_organization ON devices (organization_id, name, id)`,
		`CREATE INDEX devices_workspace_name ON devices (workspace_id, name, id)`,
		`CREATE INDEX devices_data_flow ON devices (data_flow_id)`,
		`CREATE TABLE samples (
			id          VARCHAR(36) PRIMARY KEY,
			device_id   VARCHAR(16) NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
			topic       VARCHAR(200) NOT NULL,
			ts          {{time}} NOT NULL,
			date_stored {{time}} NOT NULL,
			data        {{json}} NOT NULL,
			meta        {{json}}
		)`,
		`CREATE INDEX samples_device_topic_ts ON samples (device_id, topic, ts)`,
		`CREATE INDEX samples_device_ts ON samples (device_id, ts)`,
		`CREATE TABLE idempotency_keys (
			device_id    VARCHAR(16) NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
			key          VARCHAR(200) NOT NULL,
			request_hash {{bytes}} NOT NULL,
			status       INTEGER NOT NULL,
			response     TEXT NOT NULL,
			created_at   {{time}} NOT NULL,
			PRIMARY KEY (device_id, key)
		)`,
		`CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at)`,
	}},
	{4, "output connectors, rules, delivery outbox", []string{
		`CREATE TABLE output_connectors (
			id              VARCHAR(16) PRIMARY KEY,
			organization_id VARCHAR(16) NOT NULL,
			workspace_id    VARCHAR(16) NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
			name            VARCHAR(200) NOT NULL,
			type            VARCHAR(20) NOT NULL,
			scope           VARCHAR(20) NOT NULL,
			properties      TEXT NOT NULL,
			secrets_sealed  {{bytes}} NOT NULL,
			version         BIGINT NOT NULL,
			created_at      {{time}} NOT NULL,
			updated_at      {{time}} NOT NULL
		)`,
		`CREATE INDEX output_connectors_workspace ON output_connectors (workspace_id, name, id)`,
		`CREATE TABLE rules (
			id              VARCHAR(16) PRIMARY KEY,
			organization_id VARCHAR(16) NOT NULL,
			workspace_id    VARCHAR(16) NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
			name            VARCHAR(200) NOT NULL,
			description     TEXT,
			active          {{bool}} NOT NULL,
			inputs          TEXT NOT NULL,
			logic           TEXT NOT NULL,
			actions         TEXT NOT NULL,
			version         BIGINT NOT NULL,
			created_at      {{time}} NOT NULL,
			updated_at      {{time}} NOT NULL
		)`,
		`CREATE INDEX rules_workspace ON rules (workspace_id, name, id)`,
		`CREATE TABLE rule_inputs (
			rule_id   VARCHAR(16) NOT NULL REFERENCES rules (id) ON DELETE CASCADE,
			device_id VARCHAR(16) NOT NULL,
			PRIMARY KEY (rule_id, device_id)
		)`,
		`CREATE INDEX rule_inputs_device ON rule_inputs (device_id)`,
		`CREATE TABLE deliveries (
			id              VARCHAR(36) PRIMARY KEY,
			connector_id    VARCHAR(16) NOT NULL REFERENCES output_connectors (id) ON DELETE CASCADE,
			sample_id       VARCHAR(36) NOT NULL,
			device_id       VARCHAR(16) NOT NULL,
			rule_id         VARCHAR(16),
			payload         TEXT NOT NULL,
			status          VARCHAR(10) NOT NULL,
			attempts        INTEGER NOT NULL,
			next_attempt_at {{time}},
			lease_until     {{time}},
			created_at      {{time}} NOT NULL,
			delivered_at    {{time}}
		)`,
		`CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at)`,
		`CREATE INDEX deliveries_connector ON deliveries (connector_id, created_at, id)`,
		`CREATE TABLE delivery_attempts (
			id          {{serial}},
			delivery_id VARCHAR(36) NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
			at          {{time}} NOT NULL,
			status_code INTEGER,
			error       TEXT,
			duration_ms BIGINT NOT NULL
		)`,
		`CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, at)`,
	}},
	{5, "tags", []string{
		`CREATE TABLE tags (
			id              VARCHAR(16) PRIMARY KEY,
			organization_id VARCHAR(16) NOT NULL,
			workspace_id    VARCHAR(16) NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
			name            VARCHAR(200) NOT NULL,
			description     TEXT,
			version         BIGINT NOT NULL,
			created_at      {{time}} NOT NULL,
			updated_at      {{time}} NOT NULL
		)`,
		`CREATE UNIQUE INDEX tags_workspace_name ON tags (workspace_id, name)`,
		`CREATE TABLE device_tags (
			device_id VARCHAR(16) NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
			tag_id    VARCHAR(16) NOT NULL REFERENCES tags (id) ON DELETE CASCADE,
			PRIMARY KEY (device_id, tag_id)
		)`,
		`CREATE INDEX device_tags_tag ON device_tags (tag_id)`,
	}},
	{6, "keys bound to user ids", []string{
		// A key acts as a user by id: deleting the user deletes the key, and a
		// new user with an old name inherits nothing. Keys whose user name
		// matches no user stay unbound, and authenticate no one.
		`ALTER TABLE api_keys ADD COLUMN user_id VARCHAR(24) REFERENCES users (id) ON DELETE CASCADE`,
		`UPDATE api_keys SET user_id = (SELECT users.id FROM users WHERE users.user_name = api_keys.user_name) WHERE user_name IS NOT NULL`,
		`CREATE INDEX api_keys_user ON api_keys (user_id)`,
	}},
	{7, "audit columns as wide as what they record", []string{
		// An actor names a key acting as a user on a device (432 characters at
		// most) and a failed login records the user name as sent (200): an
		// audit record must never be lost to a column width.
		`CREATE TABLE audit_events_wide (
			id            {{serial}},
			at            {{time}} NOT NULL,
			actor         VARCHAR(512) NOT NULL,
			action        VARCHAR(40) NOT NULL,
			resource_type VARCHAR(40) NOT NULL,
			resource_id   VARCHAR(256) NOT NULL,
			outcome       VARCHAR(20) NOT NULL,
			request_id    VARCHAR(64) NOT NULL,
			detail        TEXT
		)`,
		`INSERT INTO audit_events_wide (id, at, actor, action, resource_type, resource_id, outcome, request_id, detail)
			SELECT id, at, actor, action, resource_type, resource_id, outcome, request_id, detail FROM audit_events`,
		`DROP TABLE audit_events`,
		`ALTER TABLE audit_events_wide RENAME TO audit_events`,
		`CREATE INDEX audit_events_at ON audit_events (at, id)`,
		// The copied ids must not be handed out again (SQLite's AUTOINCREMENT
		// follows the largest id by itself).
		postgresOnly + `SELECT setval(pg_get_serial_sequence('audit_events', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM audit_events`,
	}},
	{8, "signature replays unlogged", []string{
		// Every signed request inserts one row, kept five minutes: without
		// the WAL the insert costs a fraction. A PostgreSQL crash empties the
		// table, reopening the window of the signatures of the last minutes
		// (documented in the README's security model).
		postgresOnly + `ALTER TABLE signature_replays SET UNLOGGED`,
	}},
	{9, "row counts for unfiltered pages; indexes for filtered key lists", []string{
		// The total of an unfiltered page (the devices of a workspace or an
		// organization, the keys of an organization or of all) is read from a
		// counter that triggers keep exact, in the transaction of each insert
		// and delete (cascades included), instead of counting every row.
		`CREATE TABLE row_counts (
			name VARCHAR(40) NOT NULL,
			key  VARCHAR(24) NOT NULL,
			n    BIGINT NOT NULL,
			PRIMARY KEY (name, key)
		)`,
		`INSERT INTO row_counts (name, key, n) SELECT 'devices.workspace', workspace_id, COUNT(*) FROM devices GROUP BY workspace_id`,
		`INSERT INTO row_counts (name, key, n) SELECT 'devices.organization', organization_id, COUNT(*) FROM devices GROUP BY organization_id`,
		`INSERT INTO row_counts (name, key, n) SELECT 'api_keys.organization', organization_id, COUNT(*) FROM api_keys WHERE organization_id IS NOT NULL GROUP BY organization_id`,
		`INSERT INTO row_counts (name, key, n) SELECT 'api_keys.all', '', COUNT(*) FROM api_keys`,
		// On PostgreSQL the triggers run once per statement over its
		// transition table: a row-level upsert of one counter per row would
		// stack a row version per row in a bulk insert.
		postgresOnly + `CREATE FUNCTION keyplane_count_devices() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF TG_OP = 'INSERT' THEN
				INSERT INTO row_counts (name, key, n)
					SELECT 'devices.workspace', workspace_id, COUNT(*) FROM new_rows GROUP BY workspace_id
					UNION ALL SELECT 'devices.organization', organization_id, COUNT(*) FROM new_rows GROUP BY organization_id
					ON CONFLICT (name, key) DO UPDATE SET n = row_counts.n + EXCLUDED.n;
			ELSE
				INSERT INTO row_counts (name, key, n)
					SELECT 'devices.workspace', workspace_id, -COUNT(*) FROM old_rows GROUP BY workspace_id
					UNION ALL SELECT 'devices.organization', organization_id, -COUNT(*) FROM old_rows GROUP BY organization_id
					ON CONFLICT (name, key) DO UPDATE SET n = row_counts.n + EXCLUDED.n;
			END IF;
			RETURN NULL;
		END $$`,
		postgresOnly + `CREATE TRIGGER devices_count_insert AFTER INSERT ON devices REFERENCING NEW TABLE AS new_rows
			FOR EACH STATEMENT EXECUTE FUNCTION keyplane_count_devices()`,
		postgresOnly + `CREATE TRIGGER devices_count_delete AFTER DELETE ON devices REFERENCING OLD TABLE AS old_rows
			FOR EACH STATEMENT EXECUTE FUNCTION keyplane_count_devices()`,
		postgresOnly + `CREATE FUNCTION keyplane_count_api_keys() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF TG_OP = 'INSERT' THEN
				INSERT INTO row_counts (name, key, n)
					SELECT 'api_keys.all', '', COUNT(*) FROM new_rows HAVING COUNT(*) > 0
					UNION ALL SELECT 'api_keys.organization', organization_id, COUNT(*) FROM new_rows
						WHERE organization_id IS NOT NULL GROUP BY organization_id
					ON CONFLICT (name, key) DO UPDATE SET n = row_counts.n + EXCLUDED.n;
			ELSE
				INSERT INTO row_counts (name, key, n)
					SELECT 'api_keys.all', '', -COUNT(*) FROM old_rows HAVING COUNT(*) > 0
					UNION ALL SELECT 'api_keys.organization', organization_id, -COUNT(*) FROM old_rows
						WHERE organization_id IS NOT NULL GROUP BY organization_id
					ON CONFLICT (name, key) DO UPDATE SET n = row_counts.n + EXCLUDED.n;
			END IF;
			RETURN NULL;
		END $$`,
		postgresOnly + `CREATE TRIGGER api_keys_count_insert AFTER INSERT ON api_keys REFERENCING NEW TABLE AS new_rows
			FOR EACH STATEMENT EXECUTE FUNCTION keyplane_count_api_keys()`,
		postgresOnly + `CREATE TRIGGER api_keys_count_delete AFTER DELETE ON api_keys REFERENCING OLD TABLE AS old_rows
			FOR EACH STATEMENT EXECUTE FUNCTION keyplane_count_api_keys()`,
		sqliteOnly + `CREATE TRIGGER devices_count_insert AFTER INSERT ON devices BEGIN
			INSERT INTO row_counts (name, key, n) VALUES ('devices.workspace', NEW.workspace_id, 1)
				ON CONFLICT (name, key) DO UPDATE SET n = n + 1;
			INSERT INTO row_counts (name, key, n) VALUES ('devices.organization', NEW.organization_id, 1)
				ON CONFLICT (name, key) DO UPDATE SET n = n + 1;
		END`,
		sqliteOnly + `CREATE TRIGGER devices_count_delete AFTER DELETE ON devices BEGIN
			UPDATE row_counts SET n = n - 1 WHERE name = 'devices.workspace' AND key = OLD.workspace_id;
			UPDATE row_counts SET n = n - 1 WHERE name = 'devices.organization' AND key = OLD.organization_id;
		END`,
		sqliteOnly + `CREATE TRIGGER api_keys_count_insert AFTER INSERT ON api_keys BEGIN
			INSERT INTO row_counts (name, key, n) VALUES ('api_keys.all', '', 1)
				ON CONFLICT (name, key) DO UPDATE SET n = n + 1;
			INSERT INTO row_counts (name, key, n) SELECT 'api_keys.organization', NEW.organization_id, 1 WHERE NEW.organization_id IS NOT NULL
				ON CONFLICT (name, key) DO UPDATE SET n = n + 1;
		END`,
		sqliteOnly + `CREATE TRIGGER api_keys_count_delete AFTER DELETE ON api_keys BEGIN
			UPDATE row_counts SET n = n - 1 WHERE name = 'api_keys.all' AND key = '';
			UPDATE row_counts SET n = n - 1 WHERE name = 'api_keys.organization' AND key = OLD.organization_id;
		END`,
		// A filtered key list (isActive, newest first) counts and pages on an index.
		`CREATE INDEX api_keys_active_created ON api_keys (is_active, created_at, id)`,
		`CREATE INDEX api_keys_organization_active ON api_keys (organization_id, is_active, created_at, id)`,
	}},
	{10, "rate limits of keys and organizations; shared rate-limit windows", []string{
		// A key's own request allowance (both set or both null), and its
		// organization's default for keys without one.
		`ALTER TABLE api_keys ADD COLUMN rate_limit BIGINT`,
		`ALTER TABLE api_keys ADD COLUMN rate_period BIGINT`,
		`ALTER TABLE organizations ADD COLUMN rate_limit BIGINT`,
		`ALTER TABLE organizations ADD COLUMN rate_period BIGINT`,
		// What every replica has consumed of a bucket (a key's requests, an
		// address's failed authentications) in one window, added to every
		// few hundred milliseconds by each replica; window_start and
		// expires_at are Unix seconds. Losing it in a crash only forgives
		// the current windows, so it is unlogged on PostgreSQL.
		`CREATE TABLE rate_limit_windows (
			bucket       VARCHAR(300) NOT NULL,
			window_start BIGINT NOT NULL,
			count        BIGINT NOT NULL,
			expires_at   BIGINT NOT NULL,
			PRIMARY KEY (bucket, window_start)
		)`,
		`CREATE INDEX rate_limit_windows_expires ON rate_limit_windows (expires_at)`,
		postgresOnly + `ALTER TABLE rate_limit_windows SET UNLOGGED`,
		// The replicas sharing the windows, each seen at its last
		// reconciliation: how many share a budget.
		`CREATE TABLE rate_limit_replicas (
			id      VARCHAR(40) PRIMARY KEY,
			seen_at BIGINT NOT NULL
		)`,
		postgresOnly + `ALTER TABLE rate_limit_replicas SET UNLOGGED`,
	}},
	{11, "audit events by organization, actor and client; key requests per day", []string{
		// An audit event belongs to the organization whose resource it
		// concerns (none: a platform event, such as a login or a user
		// change), names the key and user that acted, and the client's
		// address. The indexes serve GET /v3/audit-events, newest first,
		// within an organization or across all.
		`ALTER TABLE audit_events ADD COLUMN organization_id VARCHAR(16)`,
		`ALTER TABLE audit_events ADD COLUMN actor_user_id VARCHAR(24)`,
		`ALTER TABLE audit_events ADD COLUMN actor_key_id VARCHAR(24)`,
		`ALTER TABLE audit_events ADD COLUMN client_address VARCHAR(64)`,
		`CREATE INDEX audit_events_organization_at ON audit_events (organization_id, at, id)`,
		`CREATE INDEX audit_events_organization_action ON audit_events (organization_id, action, at, id)`,
		`CREATE INDEX audit_events_organization_target ON audit_events (organization_id, resource_type, resource_id, at, id)`,
		`CREATE INDEX audit_events_actor ON audit_events (actor, at, id)`,
		`CREATE INDEX audit_events_actor_user ON audit_events (actor_user_id, at, id)`,
		`CREATE INDEX audit_events_actor_key ON audit_events (actor_key_id, at, id)`,
		// Requests per key and UTC day ("2006-01-02", which sorts and
		// compares as text on both databases), added to in batches: one
		// upsert per key and day per flush. Deleting the key deletes them.
		`CREATE TABLE api_key_usage (
			key_id   VARCHAR(24) NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
			day      VARCHAR(10) NOT NULL,
			requests BIGINT NOT NULL,
			PRIMARY KEY (key_id, day)
		)`,
	}},
	{12, "idempotency responses compressed with lz4", []string{
		// A bulk backfill's recorded response (10,000 sample ids, about
		// 1 MB) cost 40-60 ms to compress with pglz, the default: more than
		// the rest of the write after its COPY. lz4 takes a fraction; a
		// server built without it stores the response uncompressed.
		postgresOnly + `DO $$ BEGIN
			ALTER TABLE idempotency_keys ALTER COLUMN response SET COMPRESSION lz4;
		EXCEPTION WHEN OTHERS THEN
			ALTER TABLE idempotency_keys ALTER COLUMN response SET STORAGE EXTERNAL;
		END $$`,
	}},
	{13, "counters of active keys", []string{
		// A key list filtered on isActive alone (the console's default, and
		// the common integration query) reads its total from counters of
		// the active keys, all and per organization, kept exact in the
		// transaction of each insert, delete and update; inactive is the
		// total less the active. Counting half of 100,000 keys row by row
		// was 11 ms a request.
		`INSERT INTO row_counts (name, key, n) SELECT 'api_keys.active.all', '', COUNT(*) FROM api_keys WHERE is_active`,
		`INSERT INTO row_counts (name, key, n) SELECT 'api_keys.active.organization', organization_id, COUNT(*) FROM api_keys
			WHERE is_active AND organization_id IS NOT NULL GROUP BY organization_id`,
		postgresOnly + `CREATE FUNCTION keyplane_count_active_api_keys() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF TG_OP = 'INSERT' THEN
				INSERT INTO row_counts (name, key, n)
					SELECT k.name, k.key, COUNT(*) FROM new_rows r
					CROSS JOIN LATERAL (VALUES ('api_keys.active.all', ''), ('api_keys.active.organization', r.organization_id)) AS k (name, key)
					WHERE r.is_active AND k.key IS NOT NULL GROUP BY k.name, k.key
					ON CONFLICT (name, key) DO UPDATE SET n = row_counts.n + EXCLUDED.n;
			ELSIF TG_OP = 'DELETE' THEN
				INSERT INTO row_counts (name, key, n)
					SELECT k.name, k.key, -COUNT(*) FROM old_rows r
					CROSS JOIN LATERAL (VALUES ('api_keys.active.all', ''), ('api_keys.active.organization', r.organization_id)) AS k (name, key)
					WHERE r.is_active AND k.key IS NOT NULL GROUP BY k.name, k.key
					ON CONFLICT (name, key) DO UPDATE SET n = row_counts.n + EXCLUDED.n;
			ELSE
				INSERT INTO row_counts (name, key, n)
					SELECT k.name, k.key, SUM(c.d) FROM (
						SELECT organization_id, 1 AS d FROM new_rows WHERE is_active
						UNION ALL SELECT organization_id, -1 FROM old_rows WHERE is_active
					) c
					CROSS JOIN LATERAL (VALUES ('api_keys.active.all', ''), ('api_keys.active.organization', c.organization_id)) AS k (name, key)
					WHERE k.key IS NOT NULL GROUP BY k.name, k.key HAVING SUM(c.d) <> 0
					ON CONFLICT (name, key) DO UPDATE SET n = row_counts.n + EXCLUDED.n;
			END IF;
			RETURN NULL;
		END $$`,
		postgresOnly + `CREATE TRIGGER api_keys_count_active_insert AFTER INSERT ON api_keys REFERENCING NEW TABLE AS new_rows
			FOR EACH STATEMENT EXECUTE FUNCTION keyplane_count_active_api_keys()`,
		postgresOnly + `CREATE TRIGGER api_keys_count_active_delete AFTER DELETE ON api_keys REFERENCING OLD TABLE AS old_rows
			FOR EACH STATEMENT EXECUTE FUNCTION keyplane_count_active_api_keys()`,
		postgresOnly + `CREATE TRIGGER api_keys_count_active_update AFTER UPDATE ON api_keys REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
			FOR EACH STATEMENT EXECUTE FUNCTION keyplane_count_active_api_keys()`,
		sqliteOnly + `CREATE TRIGGER api_keys_count_active_insert AFTER INSERT ON api_keys WHEN NEW.is_active BEGIN
			INSERT INTO row_counts (name, key, n) VALUES ('api_keys.active.all', '', 1)
				ON CONFLICT (name, key) DO UPDATE SET n = n + 1;
			INSERT INTO row_counts (name, key, n) SELECT 'api_keys.active.organization', NEW.organization_id, 1 WHERE NEW.organization_id IS NOT NULL
				ON CONFLICT (name, key) DO UPDATE SET n = n + 1;
		END`,
		sqliteOnly + `CREATE TRIGGER api_keys_count_active_delete AFTER DELETE ON api_keys WHEN OLD.is_active BEGIN
			UPDATE row_counts SET n = n - 1 WHERE name = 'api_keys.active.all' AND key = '';
			UPDATE row_counts SET n = n - 1 WHERE name = 'api_keys.active.organization' AND key = OLD.organization_id;
		END`,
		sqliteOnly + `CREATE TRIGGER api_keys_count_active_update AFTER UPDATE OF is_active, organization_id ON api_keys
			WHEN OLD.is_active IS NOT NEW.is_active OR OLD.organization_id IS NOT NEW.organization_id BEGIN
			UPDATE row_counts SET n = n - 1 WHERE OLD.is_active AND name = 'api_keys.active.all' AND key = '';
			UPDATE row_counts SET n = n - 1 WHERE OLD.is_active AND name = 'api_keys.active.organization' AND key = OLD.organization_id;
			INSERT INTO row_counts (name, key, n) SELECT 'api_keys.active.all', '', 1 WHERE NEW.is_active
				ON CONFLICT (name, key) DO UPDATE SET n = n + 1;
			INSERT INTO row_counts (name, key, n) SELECT 'api_keys.active.organization', NEW.organization_id, 1 WHERE NEW.is_active AND NEW.organization_id IS NOT NULL
				ON CONFLICT (name, key) DO UPDATE SET n = n + 1;
		END`,
	}},
	{14, "key requests per day by day, for their retention", []string{
		// The pruner forgets days past UsageRetention every minute: by
		// day, without reading the whole table.
		`CREATE INDEX api_key_usage_day ON api_key_usage (day)`,
	}},
}

// postgresOnly and sqliteOnly mark a migration statement that only one
// dialect runs (a trigger, a storage option).
const (
	postgresOnly = "postgres only: "
	sqliteOnly   = "sqlite only: "
)

var columnTypes = map[Dialect]*strings.Replacer{
	Postgres: strings.NewReplacer("{{bytes}}", "BYTEA", "{{bool}}", "BOOLEAN", "{{time}}", "TIMESTAMPTZ",
		"{{serial}}", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "{{json}}", "JSONB"),
	SQLite: strings.NewReplacer("{{bytes}}", "BLOB", "{{bool}}", "BOOLEAN", "{{time}}", "DATETIME",
		"{{serial}}", "INTEGER PRIMARY KEY AUTOINCREMENT", "{{json}}", "TEXT"),
}

// schemaMigration records an applied migration in the database itself, so that
// every replica agrees on the schema version.
type schemaMigration struct {
	Version   int `gorm:"primaryKey;autoIncrement:false"`
	Name      string
	AppliedAt time.Time
}

func (schemaMigration) TableName() string { return "schema_migrations" }

// migrate applies pending migrations, each in its own transaction. On
// PostgreSQL an advisory lock keeps replicas starting together from racing.
func (s *Store) migrate(ctx context.Context, log *slog.Logger) error {
	db := s.db.WithContext(ctx)
	if err := db.Migrator().AutoMigrate(&schemaMigration{}); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	for _, m := range migrations {
		applied := false
		err := db.Transaction(func(tx *gorm.DB) error {
			if s.dialect == Postgres {
				if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", int64(0x6b6579706c616e)).Error; err != nil {
					return fmt.Errorf("lock: %w", err)
				}
			}
			var n int64
			if err := tx.Model(&schemaMigration{}).Where("version = ?", m.version).Count(&n).Error; err != nil {
				return fmt.Errorf("read schema_migrations: %w", err)
			}
			if n > 0 {
				return nil
			}
			for _, stmt := range m.ddl {
				stmt, pgOnly := strings.CutPrefix(stmt, postgresOnly)
				stmt, liteOnly := strings.CutPrefix(stmt, sqliteOnly)
				if pgOnly && s.dialect != Postgres || liteOnly && s.dialect != SQLite {
					continue
				}
				if err := tx.Exec(columnTypes[s.dialect].Replace(stmt)).Error; err != nil {
					return err
				}
			}
			applied = true
			return tx.Create(&schemaMigration{Version: m.version, Name: m.name, AppliedAt: time.Now().UTC()}).Error
		})
		if err != nil {
			return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
		}
		if applied && log != nil {
			log.Info("applied migration", "version", m.version, "name", m.name, "dialect", s.dialect)
		}
	}
	return nil
}
