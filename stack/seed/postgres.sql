-- Sample source database (a small CRM) and the platform's control database.
-- Re-run on every `stack up`: it drops and recreates, so tests start from known data.
-- Connected as the cluster superuser to database "postgres".
SELECT 'CREATE ROLE ingest LOGIN PASSWORD ''ingest'''
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ingest')\gexec
SELECT 'CREATE ROLE crm_reader LOGIN PASSWORD ''crm_reader'''
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'crm_reader')\gexec
-- Tests create databases of their own (a control DB no other test has written to) and drop them afterwards.
ALTER ROLE ingest CREATEDB;

DROP DATABASE IF EXISTS crm WITH (FORCE);
CREATE DATABASE crm OWNER ingest ENCODING 'UTF8' TEMPLATE template0;
SELECT 'CREATE DATABASE control OWNER ingest ENCODING ''UTF8'' TEMPLATE template0'
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'control')\gexec
SELECT 'CREATE DATABASE airflow OWNER ingest ENCODING ''UTF8'' TEMPLATE template0'
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'airflow')\gexec
-- Metadata of the Celery scheduler test's Airflow alone: no other Airflow's scheduler runs its DAGs' tasks.
SELECT 'CREATE DATABASE airflow_celery OWNER ingest ENCODING ''UTF8'' TEMPLATE template0'
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'airflow_celery')\gexec

\connect crm
SET ROLE ingest;

CREATE TABLE customers (
    customer_id   integer PRIMARY KEY,
    email         text NOT NULL,
    full_name     text NOT NULL,
    phone         text,
    country_code  char(2),
    credit_limit  numeric(12,2),
    is_active     boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE orders (
    order_id      bigint PRIMARY KEY,
    customer_id   integer NOT NULL REFERENCES customers (customer_id),
    status        text NOT NULL,
    amount        numeric(12,2) NOT NULL,
    currency      char(3) NOT NULL,
    note          text,
    ordered_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX orders_updated_at_idx ON orders (updated_at);
CREATE INDEX customers_updated_at_idx ON customers (updated_at);

-- Hand-written rows cover the awkward cases: NULLs, unicode, extreme numerics, time zones.
INSERT INTO customers VALUES
 (1, 'ada@example.com',    'Ada Lovelace',     '+44 20 7946 0001', 'GB', 10000.00,   true,  '2026-01-05 09:00:00+00', '2026-11-01 08:00:00+00'),
 (2, 'bjorn@example.com',  'Björn Ångström',   NULL,               'SE', 2500.50,    true,  '2026-01-06 10:30:00+01', '2026-11-01 09:15:00+00'),
 (3, 'chen@example.com',   '陈伟',              '+86 10 5555 0199', 'CN', NULL,       false, '2026-02-11 23:59:59+08', '2026-11-01 10:00:00+00'),
 (4, 'dario@example.com',  'Dario Fo 🎭',       '',                 NULL, 0.00,       true,  '2026-03-01 00:00:00-05', '2026-11-02 11:45:30.123456+00'),
 (5, 'eve@example.com',    'Ève O''Brien',      '+33 1 23 45 67 89','FR', 9999999999.99, true, '2026-04-15 12:00:00+02', '2026-11-02 12:00:00+00');

-- Generated rows give some volume with deterministic values.
INSERT INTO customers
SELECT g,
       'user' || g || '@example.com',
       'Customer ' || g,
       CASE WHEN g % 7 = 0 THEN NULL ELSE '+1 555 ' || lpad(g::text, 4, '0') END,
       (ARRAY['US','DE','NL','BR','JP'])[1 + g % 5],
       round((g * 37.5)::numeric, 2),
       g % 11 <> 0,
       timestamptz '2026-05-01 00:00:00+00' + g * interval '1 hour',
       timestamptz '2026-11-03 00:00:00+00' + g * interval '1 minute'
FROM generate_series(6, 200) AS g;

INSERT INTO orders
SELECT 100000 + g,
       1 + (g % 200),
       (ARRAY['new','paid','shipped','cancelled'])[1 + g % 4],
       round((g * 3.17)::numeric % 5000, 2),
       (ARRAY['EUR','USD','GBP'])[1 + g % 3],
       CASE WHEN g % 5 = 0 THEN NULL WHEN g % 13 = 0 THEN 'Überweisung – « rush »' ELSE 'order ' || g END,
       timestamptz '2026-11-01 00:00:00+00' + g * interval '17 minutes',
       timestamptz '2026-11-01 02:00:00+00' + g * interval '17 minutes'
FROM generate_series(1, 1000) AS g;

GRANT USAGE ON SCHEMA public TO crm_reader;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO crm_reader;
